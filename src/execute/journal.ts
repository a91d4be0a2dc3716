/**
 * The journal: one JSON line per deleted manifest, tag or GitLab repository record, written and flushed to disk BEFORE its
 * DELETE is sent, so every deletion can be undone (restore) until garbage collection runs.
 */
import { writeSync } from "node:fs";
import { open, mkdir, unlink, type FileHandle } from "node:fs/promises";
import { UsageError } from "../core/errors.js";
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
  /** Records appended so far. */
  readonly records: number;
  append(record: JournalRecord | RepositoryJournalRecord): Promise<void>;
  close(): Promise<void>;
}

/**
 * Appends to a JSON-lines file (mode 0600). Concurrent appends are group-committed: records that
 * arrive while a flush is under way are written and fsync'ed together, so durability costs one
 * fsync per batch rather than per deletion.
 */
export class FileJournal implements JournalWriter {
  private pending: Array<{ line: string; done: () => void; fail: (error: unknown) => void }> = [];
  records = 0;
  private flushing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
  ) {}

  /**
   * Opens (creating folders as needed) a journal for appending. Throws UsageError when it cannot:
   * nothing may be deleted without a journal, and the fix is another --journal path.
   */
  static async open(path: string): Promise<FileJournal> {
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      return new FileJournal(path, await open(path, "a", 0o600));
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
    this.records++;
    return new Promise((done, fail) => {
      this.pending.push({ line: JSON.stringify(record) + "\n", done, fail });
      this.flushing ??= this.flush();
    });
  }

  /** Flushes and closes; a journal that received no record is removed again. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.file.close();
    if (this.records === 0) await unlink(this.path).catch(() => {});
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        // Written inline: a write lands in the page cache without waiting for the disk, and a
        // trip through the thread pool per batch cost the main thread more than the copy. The
        // wait for the disk is the fdatasync, which goes through the pool like any other.
        writeAll(this.file.fd, Buffer.from(batch.map((entry) => entry.line).join(""), "utf8"));
        await this.file.datasync();
        for (const entry of batch) entry.done();
      } catch (error) {
        for (const entry of batch) entry.fail(error);
      }
    }
    this.flushing = undefined;
  }
}

/** Writes all of `bytes` at the end of the file (opened for appending); throws ENOSPC and the like. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}
