/**
 * The few read-only filesystem calls the storage code makes, behind an interface so tests can
 * inject failures (EACCES cannot be provoked with chmod when tests run as root).
 * Deliberately nothing here can write.
 */
import { close, fstat, open, read, stat } from "node:fs";
import { opendir, readdir } from "node:fs/promises";
import { promisify } from "node:util";

/** A directory entry, as `readdir(…, { withFileTypes: true })` returns it (lstat semantics). */
export interface DirEntry {
  name: string;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** What `stat` tells the reader. */
export interface FileStats {
  mtimeMs: number;
  size: number;
  isDirectory(): boolean;
}

/** Read-only filesystem access used by the storage reader and the preflight. */
export interface StorageFs {
  listDir(path: string): Promise<DirEntry[]>;
  readFile(path: string): Promise<Buffer>;
  /**
   * Stats and reads a small file through one descriptor, so that what is read is what was stat'ed
   * and a scan pays one system call less per link file. `bytes` is undefined when the file is
   * longer than `maxBytes` (it is then not read at all).
   */
  readSmallFile(path: string, maxBytes: number): Promise<{ stats: FileStats; bytes?: Buffer }>;
  stat(path: string): Promise<FileStats>;
  /** Opens and closes a directory: proves it is readable without listing it. */
  probeDir(path: string): Promise<void>;
}

// The callback API, promisified: for the many small files of a scan it measured about twice as
// fast as node:fs/promises (whose readFile makes several promise round trips per file). Each call
// is a round trip through libuv's thread pool, and those round trips are most of a warm scan's
// cost (docs/performance.md), hence the reads below that make as few of them as possible.
const openCallback = promisify(open);
const readCallback = promisify(read);
const fstatCallback = promisify(fstat);
const closeCallback = promisify(close);
const statCallback = promisify(stat);

/** A manifest is usually a few KB: one read of this size gets it whole, without an fstat first. */
const FIRST_READ_BYTES = 16 * 1024;

/** The real filesystem. */
export const nodeStorageFs: StorageFs = {
  listDir: (path) => readdir(path, { withFileTypes: true }),
  readFile: (path) => withFile(path, readToEnd),
  readSmallFile: (path, maxBytes) => withFile(path, async (fd) => {
    const stats = await fstatCallback(fd);
    if (stats.size > maxBytes) return { stats };
    // One byte more than announced: a file that grew since fstat is read whole all the same.
    const buffer = Buffer.allocUnsafe(stats.size + 1);
    const { bytesRead } = await readCallback(fd, buffer, 0, buffer.length, 0);
    if (bytesRead > stats.size) return { stats, bytes: Buffer.concat([buffer, await readToEnd(fd, buffer.length)]) };
    return { stats, bytes: buffer.subarray(0, bytesRead) };
  }),
  stat: (path) => statCallback(path),
  probeDir: async (path) => {
    const dir = await opendir(path);
    await dir.close();
  },
};

/** open, use, close (also when the use fails). */
async function withFile<R>(path: string, use: (fd: number) => Promise<R>): Promise<R> {
  const fd = await openCallback(path, "r");
  try {
    return await use(fd);
  } finally {
    await closeCallback(fd);
  }
}

/**
 * Scratch buffers for first reads, reused: allocating 16 KB per manifest would churn the garbage
 * collector through gigabytes on a large registry. What was read is copied out at its exact size.
 */
const scratch: Buffer[] = [];

/**
 * Reads from `position` to the end of the file: open + read + close for a small file (3 round
 * trips, where fs.readFile makes 4 with its fstat), more reads for a large one.
 */
async function readToEnd(fd: number, position = 0): Promise<Buffer> {
  const first = scratch.pop() ?? Buffer.allocUnsafe(FIRST_READ_BYTES);
  const chunks: Buffer[] = [];
  try {
    const { bytesRead } = await readCallback(fd, first, 0, first.length, position);
    // A short read of a regular file is its end; a full one may be followed by more.
    if (bytesRead < first.length) return Buffer.from(first.subarray(0, bytesRead));
    chunks.push(Buffer.from(first));
    position += bytesRead;
  } finally {
    if (scratch.length < 256) scratch.push(first);
  }
  for (let size = FIRST_READ_BYTES * 4; ; size = Math.min(size * 4, 4 * 1024 * 1024)) {
    const buffer = Buffer.allocUnsafe(size);
    const { bytesRead } = await readCallback(fd, buffer, 0, size, position);
    chunks.push(buffer.subarray(0, bytesRead));
    position += bytesRead;
    if (bytesRead < size) return Buffer.concat(chunks);
  }
}

/** The `code` of a Node system error (`ENOENT`, `EACCES`…), if there is one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/** ENOENT or ENOTDIR: the path is simply not there (possibly removed while we scanned). */
export function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** EACCES or EPERM. */
export function isPermissionDenied(error: unknown): boolean {
  const code = errorCode(error);
  return code === "EACCES" || code === "EPERM";
}

/** A short, content-free description of a filesystem error for warnings. */
export function describeFsError(error: unknown): string {
  if (isPermissionDenied(error)) return "permission denied (run as root, e.g. with sudo)";
  const code = errorCode(error);
  if (code === "ENOENT") return "it does not exist";
  if (code) return `the system reported ${code}`;
  return error instanceof Error ? error.message : String(error);
}
