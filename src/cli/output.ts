/**
 * Where text goes. Per-manifest lines go to stdout (to stderr with --json, whose document owns
 * stdout); warnings, notices and errors to stderr; progress to stderr on a terminal only.
 * --quiet keeps the summary and errors; --verbose adds every kept manifest with its reason.
 */
import type { CleanupEvents } from "../cleanup.js";
import { ExitCode, type ExitCodeValue } from "../core/errors.js";
import { describeKeepReason } from "../core/keep-reason.js";
import type { ManifestOutcome, TagOutcome } from "../core/report.js";
import type { KeptTag } from "../core/retention.js";
import type { StorageWarning } from "../core/types.js";
import { NO_PROGRESS, terminalProgress, type Progress } from "./progress.js";
import { renderKeptTag, renderOutcome, renderSignedIn, renderSkipped, renderTagOutcome, renderWarning } from "./render.js";
import { renderRepair } from "./repair-render.js";
import { isQuiet, renderRepositoryOutcome } from "./repository-render.js";
import { styleFor, type Style } from "./style.js";

export interface OutputMode {
  json: boolean;
  /** A JSON document will be written (--json or --output): keep outcomes and warnings for it. */
  collect?: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

/** Lines waiting for a pipe or file are written once they reach this many characters. */
const FLUSH_BYTES = 64 * 1024;

export class Output {
  /** Everything the JSON document needs, collected as it happens. */
  readonly outcomes: ManifestOutcome[] = [];
  readonly tagOutcomes: TagOutcome[] = [];
  /** Tags retention keeps, with the repository, for the JSON document. */
  readonly keptTags: Array<{ repository: string; tag: KeptTag }> = [];
  readonly warnings: StorageWarning[] = [];
  private readonly progress: Progress;
  private readonly outStyle: Style;
  private readonly errStyle: Style;
  private readonly collect: boolean;
  /** Lines not yet written to a pipe or file, all for one stream (see write). */
  private pending: { stream: NodeJS.WriteStream; text: string } | undefined;

  constructor(
    private readonly mode: OutputMode,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    this.collect = mode.collect ?? mode.json;
    const textStream = mode.json ? stderr : stdout;
    this.outStyle = styleFor(textStream.isTTY === true, mode.color, env);
    this.errStyle = styleFor(stderr.isTTY === true, mode.color, env);
    this.progress = stderr.isTTY === true && !mode.quiet ? terminalProgress(stderr) : NO_PROGRESS;
  }

  /** Handlers for the cleanup's events. */
  events(username: string): CleanupEvents {
    return {
      warning: (w) => {
        if (this.collect) this.warnings.push(w);
        if (!this.mode.quiet) this.err(this.errStyle.warning(renderWarning(w)));
      },
      signedIn: (user) => this.notice(renderSignedIn(username, user)),
      scanProgress: ({ repositories, manifests }) => this.progress.scanning(repositories, manifests),
      planned: (plan) => {
        if (this.collect) for (const tag of plan.tagDecisions?.kept ?? []) this.keptTags.push({ repository: plan.name, tag });
        // A protected tag is named even without -v: it is a rule the admin may not know of.
        for (const kept of plan.tagDecisions?.kept ?? []) {
          if (this.mode.verbose || (!this.mode.quiet && kept.reason.kind === "protected")) this.text(renderKeptTag(plan.name, kept));
        }
        if (!this.mode.verbose) return;
        for (const kept of plan.kept) this.text(`Keep image ${kept.digest} in repository ${plan.name}: ${describeKeepReason(kept.reason)}`);
      },
      // Orphans get a section after the summary: one line each only with -v (there can be hundreds).
      skipped: (s) => {
        if (s.reason !== "orphan" || this.mode.verbose) this.err(this.errStyle.warning(renderSkipped(s)));
      },
      executing: (total) => this.progress.deleting(total),
      outcome: (o) => {
        // Kept only for the JSON document: a million outcome objects are not free.
        if (this.collect) this.outcomes.push(o);
        this.progress.advance();
        if (o.kind === "failed") this.err(this.errStyle.error(renderOutcome(o)));
        else if (!this.mode.quiet) this.text(o.kind === "deleted" ? this.outStyle.success(renderOutcome(o)) : renderOutcome(o));
      },
      tagOutcome: (o) => {
        if (this.collect) this.tagOutcomes.push(o);
        if (o.kind === "failed") this.err(this.errStyle.error(renderTagOutcome(o)));
        else if (!this.mode.quiet) this.text(o.kind === "deleted" ? this.outStyle.success(renderTagOutcome(o)) : renderTagOutcome(o));
      },
      // Always shown, even with --quiet: a repair means CI pushed onto what this run deleted.
      repaired: (o) => {
        if (o.kind === "restored") this.err(this.errStyle.warning(renderRepair(o)));
        else this.err(this.errStyle.error(renderRepair(o)));
      },
      repositoryOutcome: (o) => {
        if (o.kind === "failed") this.err(this.errStyle.error(renderRepositoryOutcome(o)));
        else if (isQuiet(o) ? this.mode.verbose : !this.mode.quiet) {
          this.text(o.kind === "deleted" ? this.outStyle.success(renderRepositoryOutcome(o)) : renderRepositoryOutcome(o));
        }
      },
      measuring: () => this.progress.stop(),
    };
  }

  /** A line of the human report (stdout, or stderr with --json). */
  text(line: string): void {
    this.write(this.mode.json ? this.stderr : this.stdout, line);
  }

  /** Summary lines: printed even with --quiet. */
  summary(lines: string[]): void {
    this.progress.stop();
    for (const line of lines) this.text(line);
  }

  /** A warning on stderr, shown even with --quiet. */
  warning(line: string): void {
    this.progress.stop();
    this.err(this.errStyle.warning(line));
  }

  notice(line: string): void {
    if (!this.mode.quiet) this.err(line);
  }

  error(line: string): void {
    this.progress.stop();
    this.err(this.errStyle.error(line));
  }

  /** The JSON document, alone on stdout. */
  json(document: unknown): void {
    this.flush();
    this.progress.stop();
    this.stdout.write(JSON.stringify(document, null, 2) + "\n");
  }

  stop(): void {
    this.flush();
    this.progress.stop();
  }

  private err(line: string): void {
    this.write(this.stderr, line);
  }

  /**
   * Writes what is waiting. Called before anything else is written, at the end of the run, and by
   * main at exit: writes to pipes and files are synchronous on Linux, so nothing waiting is lost.
   */
  flush(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending && !isClosed(pending.stream)) pending.stream.write(pending.text);
  }

  private write(stream: NodeJS.WriteStream, line: string): void {
    // Its reader went away (`| head -1`): nothing more goes there; main says so at the end.
    if (isClosed(stream)) return;
    if (stream.isTTY) {
      this.flush();
      if (this.progress !== NO_PROGRESS) this.progress.log(line);
      else stream.write(line + "\n");
      return;
    }
    // Into a pipe or file (cron, CI, `| tee`), a deletion's line waits for the rest of this turn of
    // the event loop: one write for many lines instead of a system call, and a wake-up of whatever
    // reads, per line. Lines for the other stream go after these, so the order survives `2>&1`.
    if (this.pending && this.pending.stream !== stream) this.flush();
    if (!this.pending) {
      this.pending = { stream, text: "" };
      setImmediate(() => this.flush());
    }
    this.pending.text += line + "\n";
    if (this.pending.text.length >= FLUSH_BYTES) this.flush();
  }
}

/** Streams whose reader went away, as their 'error' event said (watchClosedStreams). */
const closed = new WeakSet<NodeJS.WriteStream>();

/**
 * True once a write to `stream` failed because its reader went away (EPIPE: `… | head -1`, a
 * pager quit early). Known from the stream's 'error' event, which Node emits on the next tick.
 */
export function isClosed(stream: NodeJS.WriteStream): boolean {
  return closed.has(stream);
}

/**
 * Keeps the process going when stdout or stderr is closed under it: what a run deletes must not
 * depend on whether someone still reads its output. Returns what main says at the end and how
 * the exit code changes; other stream errors still end the process as before.
 */
export function watchClosedStreams(stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream): ClosedStreams {
  for (const stream of [stdout, stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      // From now on Output writes nothing there; a write already under way fails harmlessly.
      if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") return void closed.add(stream);
      throw error;
    });
  }
  return {
    settle: () => new Promise((resolve) => setImmediate(resolve)),
    notice: () => {
      if (!isClosed(stdout) && !isClosed(stderr)) return undefined;
      const which = isClosed(stdout) ? "Standard output" : "Standard error";
      return `Warning: ${which} was closed before the run ended (EPIPE: whatever read it, such as head, exited). ` +
        "The run went on to the end all the same, since what it deletes must not depend on a reader, but the rest of " +
        "its output there, the summary included, was not shown: hence a non-zero exit code. To keep the report, " +
        "redirect it to a file or give --output <file>.";
    },
    exitCode: (code) => (code === ExitCode.ok && (isClosed(stdout) || isClosed(stderr)) ? ExitCode.deletionsFailed : code),
  };
}

/** What a closed stdout or stderr changes at the end of a run. */
export interface ClosedStreams {
  /** Waits for the 'error' events of writes made so far (emitted on the next tick), so the two below know of them. */
  settle(): Promise<void>;
  /** The warning for stderr when either stream was closed (shown on stderr if it is still open). */
  notice(): string | undefined;
  /** The exit code to use: 1 instead of 0 when output was lost, any other code unchanged. */
  exitCode(code: ExitCodeValue): ExitCodeValue;
}
