/**
 * The real, read-only StorageFs over the worker pool (fs-worker-pool.ts): the filesystem driver's
 * default. Results come back as plain values and are turned into what storage-fs.ts promises:
 * Buffers over the bytes received (no copy), entries and stats with their methods, and errors
 * with the system's `code`, so that isMissing and describeFsError read them as before.
 */
import { OP } from "./fs-worker.js";
import { FsWorkerPool, systemError, type WorkerResult } from "./fs-worker-pool.js";
import type { NamedBelow } from "./named-below.js";
import type { DirEntry, FileStats, StorageFs } from "./storage-fs.js";

/** Stats and reads many files with every call in one batch: no bound is needed, the pool is one. */
export interface BatchedStorageFs extends StorageFs {
  statMany(paths: readonly string[]): Promise<Array<FileStats | Error>>;
  /** `name` in every subfolder of `folder`, listed and stat'ed by one worker in one call (named-below.ts). */
  statNamedBelow(folder: string, name: string): Promise<NamedBelow>;
}

let shared: BatchedStorageFs | undefined;

/** One pool per process, started on its first large batch. */
export function pooledStorageFs(): BatchedStorageFs {
  return (shared ??= storageFsOver(new FsWorkerPool()));
}

/** A StorageFs whose calls `pool` runs. */
export function storageFsOver(pool: FsWorkerPool): BatchedStorageFs {
  const call = async (kind: number, path: string, arg?: number): Promise<WorkerResult> => {
    const result = await pool.call(kind, path, arg);
    if (typeof result === "object" && "error" in result) throw systemError(result);
    return result;
  };
  return {
    listDir: async (path) => entriesOf((await call(OP.listDir, path)) as { names: string[]; types: string }),
    readFile: async (path) => bufferOf((await call(OP.readFile, path)) as Uint8Array),
    readSmallFile: async (path, maxBytes) => {
      const read = (await call(OP.readSmallFile, path, maxBytes)) as StatResult & { bytes?: Uint8Array };
      return read.bytes === undefined ? { stats: new Stats(read) } : { stats: new Stats(read), bytes: bufferOf(read.bytes) };
    },
    stat: async (path) => new Stats((await call(OP.stat, path)) as StatResult),
    probeDir: async (path) => void (await call(OP.probeDir, path)),
    statMany: (paths) => Promise.all(paths.map((path) => pool.call(OP.stat, path).then(statOrError, asError))),
    statNamedBelow: async (folder, name) => (await call(OP.statNamedBelow, `${folder}/*/${name}`)) as NamedBelow,
  };
}

type StatResult = { size: number; mtimeMs: number; dir: boolean };

class Stats implements FileStats {
  readonly size: number;
  readonly mtimeMs: number;
  private readonly dir: boolean;

  constructor(result: StatResult) {
    this.size = result.size;
    this.mtimeMs = result.mtimeMs;
    this.dir = result.dir;
  }

  isDirectory(): boolean {
    return this.dir;
  }
}

class Entry implements DirEntry {
  constructor(
    readonly name: string,
    private readonly type: string,
  ) {}

  isDirectory(): boolean {
    return this.type === "d";
  }

  isSymbolicLink(): boolean {
    return this.type === "l";
  }
}

function entriesOf(result: { names: string[]; types: string }): DirEntry[] {
  return result.names.map((name, i) => new Entry(name, result.types[i]!));
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function statOrError(result: WorkerResult): FileStats | Error {
  if (typeof result === "object" && "error" in result) return systemError(result);
  return new Stats(result as StatResult);
}

/** A Buffer over the received bytes (Node's own fallback hands over Buffers already). */
function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
