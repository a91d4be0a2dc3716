/**
 * The journal: one JSON line per deleted manifest, tag or GitLab repository record, written and flushed to disk BEFORE its
 * DELETE is sent, so every deletion can be undone (restore) until garbage collection runs.
 */
import { writeSync } from "node:fs";
import { open, mkdir, unlink, type FileHandle } from "node:fs/promises";
import { CleanupError, ExitCode, UsageError } from "../core/errors.js";
import { dirname } from "node:path";
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";

/**
 * One journal line. `manifest` is the exact manifest bytes, base64-encoded. A record without `tag`
 * is a deleted manifest; one with `tag` is a deleted tag (see `tag`). One digest may have both
 * kinds: a tag deleted, then the manifest it left untagged.
 */
export interface JournalRecord {
  runId: string;
  time: string;
  repository: RepositoryName;
  digest: Digest;
  mediaType: string;
  manifest: string;
  /**
   * Set on a tag record: this run deleted tag `tag` of `repository`, which pointed at `digest`
   * (whose exact bytes `manifest` holds, of type `mediaType`), so restore can point it there
   * again with a PUT by tag. A valid tag name (`[\w][\w.-]{0,127}`), else restore skips the line.
   */
  tag?: string;
}

/**
 * A repository `--delete-empty-repositories` deleted in GitLab (GITLAB.md §13): a record of its
 * own, with no manifest. Restore cannot bring GitLab's record back, and says so.
 */
export interface RepositoryJournalRecord {
  runId: string;
  time: string;
  repository: RepositoryName;
  deletedRepository: true;
  /** The GitLab project it belonged to, and GitLab's id of the repository record. */
  project: string;
  gitlabId: number;
}

/** Where records go. The cleanup waits for `append` before it deletes. */
export interface JournalWriter {
  readonly path: string;
  /** Records on disk so far (written and flushed). */
  readonly records: number;
  /** Resolves once the record is flushed; rejects with JournalWriteError when it could not be. */
  append(record: JournalRecord | RepositoryJournalRecord): Promise<void>;
  close(): Promise<void>;
}

/**
 * A write to the journal failed after it opened (disk full, I/O error). Nothing may be deleted
 * without its record on disk, so the run stops deleting; what was deleted before is journaled.
 * Exit 1: the run did not do all it set out to.
 */
export class JournalWriteError extends CleanupError {
  /** The system's error code, e.g. `ENOSPC`. */
  readonly code: string;

  constructor(readonly path: string, cause: unknown, journaled: number) {
    const before = journaled === 0
      ? "Nothing had been deleted yet."
      : `The ${journaled} deletions journaled before are in it, and \`gitlab-registry-cleanup restore ${path}\` puts them back.`;
    super(
      `Could not write the journal ${path} (${describeCode(cause)}), so the run stopped deleting: nothing is deleted before its record is on disk. ` +
        `Free space on that disk or choose another place with --journal <path>, then run again. ${before}`,
      ExitCode.deletionsFailed,
      { cause },
    );
    this.code = (cause as NodeJS.ErrnoException).code ?? "unknown";
  }
}

interface PendingRecord {
  line: string;
  done: () => void;
  fail: (error: unknown) => void;
}

/**
 * Appends to a JSON-lines file (mode 0600). Concurrent appends are group-committed: records that
 * arrive while a flush is under way are written and fsync'ed together, so durability costs one
 * fsync per batch rather than per deletion. After a failed write or flush every append fails at
 * once with the same JournalWriteError: a file that could not take one record is not trusted with
 * the next, and no append is left waiting.
 */
export class FileJournal implements JournalWriter {
  private pending: PendingRecord[] = [];
  records = 0;
  private appended = 0;
  private flushing: Promise<void> | undefined;
  private failure: JournalWriteError | undefined;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    /** This run created the file: only then may close() remove it (never /dev/null, nor an older run's journal). */
    private readonly created: boolean,
  ) {}

  /**
   * Opens (creating folders as needed) a journal for appending. Throws UsageError when it cannot:
   * nothing may be deleted without a journal, and the fix is another --journal path.
   */
  static async open(path: string): Promise<FileJournal> {
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const created = await open(path, "ax", 0o600).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "EEXIST") return undefined;
        throw error;
      });
      return created ? new FileJournal(path, created, true) : new FileJournal(path, await open(path, "a", 0o600), false);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new UsageError(
        `Cannot write the journal ${path} (${code}): every deletion is journaled first, so nothing was deleted. ` +
          "Choose a writable place with --journal <path> (and check the disk is not full).",
        { cause: error },
      );
    }
  }

  append(record: JournalRecord | RepositoryJournalRecord): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.appended++;
    return new Promise((done, fail) => {
      this.pending.push({ line: JSON.stringify(record) + "\n", done, fail });
      this.startFlush();
    });
  }

  /** Flushes and closes; a journal this run created and never appended to is removed again. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.file.close();
    if (this.created && this.appended === 0) await unlink(this.path).catch(() => {});
  }

  /**
   * Starts a flush unless one is under way. `flushing` is cleared only once the flush's promise
   * settled, never from inside it: a write that throws at once (ENOSPC) ended the flush before
   * its promise was stored, which left a settled promise there for good, so later appends were
   * never written nor answered and close() spun on it without yielding to signals.
   */
  private startFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      // Appended between the flush's last look and this callback.
      if (this.pending.length > 0) this.startFlush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.failure) {
      const batch = this.pending;
      this.pending = [];
      try {
        // Written inline: a write lands in the page cache without waiting for the disk, and a
        // trip through the thread pool per batch cost the main thread more than the copy. The
        // wait for the disk is the fdatasync, which goes through the pool like any other.
        writeAll(this.file.fd, Buffer.from(batch.map((entry) => entry.line).join(""), "utf8"));
        await this.file.datasync();
        this.records += batch.length;
        for (const entry of batch) entry.done();
      } catch (error) {
        this.failure = new JournalWriteError(this.path, error, this.records);
        for (const entry of [...batch, ...this.pending]) entry.fail(this.failure);
        this.pending = [];
      }
    }
  }
}

/** `ENOSPC: no space left on device`, from Node's `ENOSPC: no space left on device, write`. */
function describeCode(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === undefined) return String(error);
  return typeof message === "string" && message.startsWith(`${code}: `) ? message.replace(/, \w+$/, "") : code;
}

/** Writes all of `bytes` at the end of the file (opened for appending); throws ENOSPC and the like. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}
