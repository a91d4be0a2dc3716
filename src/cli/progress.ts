/**
 * Progress on a terminal: a counter while scanning (the total is unknown while streaming) and a
 * bar while deleting. Lines printed meanwhile go through `log` so they do not tear the bar.
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

/** No progress at all: not a terminal, --quiet, or --json on stdout. */
export const NO_PROGRESS: Progress = { scanning() {}, deleting() {}, advance() {}, log() {}, stop() {} };

/** Progress drawn on `stream` (stderr), which must be a TTY. */
export function terminalProgress(stream: NodeJS.WriteStream): Progress {
  const bars = new cliProgress.MultiBar({
    stream, hideCursor: true, clearOnComplete: true, stopOnComplete: false, barsize: 30,
    format: "{phase} [{bar}] {value}/{total} {unit} | {duration_formatted}",
  }, cliProgress.Presets.shades_classic);
  let scan: cliProgress.SingleBar | undefined;
  let work: cliProgress.SingleBar | undefined;
  return {
    scanning(repositories, manifests) {
      const payload = { phase: "Scanning", unit: `repositories, ${manifests} manifests` };
      if (!scan) scan = bars.create(0, 0, payload, { format: "{phase} {value} {unit} | {duration_formatted}" });
      scan.update(repositories, payload);
    },
    deleting(total) {
      scan?.stop();
      if (scan) bars.remove(scan);
      work = bars.create(total, 0, { phase: "Deleting", unit: "manifests" });
    },
    advance() {
      work?.increment();
    },
    log(line) {
      bars.log(`${line}\n`);
    },
    stop() {
      bars.stop();
    },
  };
}
