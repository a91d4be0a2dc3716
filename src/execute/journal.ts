/**
 * The journal: one JSON line per manifest, written and flushed to disk BEFORE its DELETE is
 * sent, so every deletion can be undone (restore) until garbage collection runs.
 */
import { open, mkdir, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";

/** One journal line. `manifest` is the exact manifest bytes, base64-encoded. */
export interface JournalRecord {
  runId: string;
  time: string;
  repository: RepositoryName;
  digest: Digest;
  mediaType: string;
  manifest: string;
}

/** Where records go. The cleanup waits for `append` before it deletes. */
export interface JournalWriter {
  readonly path: string;
  /** Records appended so far. */
  readonly records: number;
  append(record: JournalRecord): Promise<void>;
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

  /** Opens (creating folders as needed) a journal for appending. */
  static async open(path: string): Promise<FileJournal> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return new FileJournal(path, await open(path, "a", 0o600));
  }

  append(record: JournalRecord): Promise<void> {
    this.records++;
    return new Promise((done, fail) => {
      this.pending.push({ line: JSON.stringify(record) + "\n", done, fail });
      this.flushing ??= this.flush();
    });
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.file.close();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.file.appendFile(batch.map((entry) => entry.line).join(""));
        await this.file.datasync();
        for (const entry of batch) entry.done();
      } catch (error) {
        for (const entry of batch) entry.fail(error);
      }
    }
    this.flushing = undefined;
  }
}

/**
 * A journal whose file is created on the first record, so a run that ends up deleting nothing
 * (every repository skipped, say) leaves no empty file behind and names none in its summary.
 */
export class LazyJournal implements JournalWriter {
  private file: Promise<FileJournal> | undefined;
  private opened: FileJournal | undefined;

  constructor(readonly path: string) {}

  get records(): number {
    return this.opened?.records ?? 0;
  }

  async append(record: JournalRecord): Promise<void> {
    this.file ??= FileJournal.open(this.path).then((journal) => (this.opened = journal));
    await (await this.file).append(record);
  }

  async close(): Promise<void> {
    if (this.file) await (await this.file).close();
  }
}
