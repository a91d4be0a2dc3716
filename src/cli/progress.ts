/**
 * Progress on a terminal: a counter while scanning (the total is unknown while streaming) and a
 * bar while deleting. Lines printed while a bar is live go above it through the bar library;
 * otherwise straight to the terminal (the library only flushes its log buffer on a redraw).
 */
import cliProgress from "cli-progress";

export interface Progress {
  scanning(repositories: number, manifests: number): void;
  deleting(total: number): void;
  advance(): void;
  /** Prints a line above the bar (or plainly when there is none). */
  log(line: string): void;
  stop(): void;
}

/** No progress at all: not a terminal, or --quiet. */
export const NO_PROGRESS: Progress = { scanning() {}, deleting() {}, advance() {}, log() {}, stop() {} };

const SCAN_FORMAT = "Scanning {value} repositories, {manifests} manifests | {duration_formatted}";
const DELETE_FORMAT = "Deleting [{bar}] {value}/{total} manifests | {duration_formatted} | ETA {eta_formatted}";

/** Progress drawn on `stream` (stderr), which must be a TTY. */
export function terminalProgress(stream: NodeJS.WriteStream): Progress {
  let bars: cliProgress.MultiBar | undefined;
  let scan: cliProgress.SingleBar | undefined;
  let work: cliProgress.SingleBar | undefined;
  const open = (): cliProgress.MultiBar =>
    (bars ??= new cliProgress.MultiBar(
      { stream, hideCursor: true, clearOnComplete: true, barsize: 30, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    ));
  const stop = (): void => {
    // stop() does not flush lines logged since the last redraw; update() does.
    bars?.update();
    bars?.stop();
    bars = scan = work = undefined;
  };
  return {
    scanning(repositories, manifests) {
      scan ??= open().create(0, 0, { manifests }, { format: SCAN_FORMAT });
      scan.update(repositories, { manifests });
    },
    deleting(total) {
      stop();
      work = open().create(total, 0, {}, { format: DELETE_FORMAT });
    },
    advance() {
      work?.increment();
    },
    log(line) {
      if (bars) bars.log(`${line}\n`);
      else stream.write(`${line}\n`);
    },
    stop,
  };
}
