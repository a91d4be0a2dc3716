/**
 * The few read-only filesystem calls the storage code makes, behind an interface so tests can
 * inject failures (EACCES cannot be provoked with chmod when tests run as root).
 * Deliberately nothing here can write.
 */
import { closeSync, fstatSync, open, read, stat } from "node:fs";
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
const readCallback = promisify(read);
const statCallback = promisify(stat);

/** A manifest is usually a few KB: one read of this size gets it whole, without an fstat first. */
const FIRST_READ_BYTES = 16 * 1024;

/** The real filesystem. */
export const nodeStorageFs: StorageFs = {
  listDir: (path) => readdir(path, { withFileTypes: true }),
  readFile: (path) => withFile(path, (fd, done) => {
    const first = scratch.pop() ?? Buffer.allocUnsafe(FIRST_READ_BYTES);
    read(fd, first, 0, first.length, 0, (error, bytesRead) => {
      // Copied out at its exact size: the scratch buffer is reused.
      const head = error ? undefined : Buffer.from(first.subarray(0, bytesRead));
      if (scratch.length < 256) scratch.push(first);
      if (error || !head) done(error);
      // A short read of a regular file is its end (open + read: two round trips fewer than
      // fs.readFile, which fstats first and closes through the pool); a full one may be followed by more.
      else if (bytesRead < first.length) done(null, head);
      else readToEnd(fd, bytesRead).then((rest) => done(null, Buffer.concat([head, rest])), done);
    });
  }),
  readSmallFile: (path, maxBytes) => withFile(path, (fd, done) => {
    // Inline, not through the thread pool: see withFile.
    const stats = fstatSync(fd);
    if (stats.size > maxBytes) return done(null, { stats });
    // One byte more than announced: a file that grew since fstat is read whole all the same.
    const buffer = Buffer.allocUnsafe(stats.size + 1);
    read(fd, buffer, 0, buffer.length, 0, (readError, bytesRead) => {
      if (readError) done(readError);
      else if (bytesRead <= stats.size) done(null, { stats, bytes: buffer.subarray(0, bytesRead) });
      else readToEnd(fd, buffer.length).then((rest) => done(null, { stats, bytes: Buffer.concat([buffer, rest]) }), done);
    });
  }),
  stat: (path) => statCallback(path),
  probeDir: async (path) => {
    const dir = await opendir(path);
    await dir.close();
  },
};

type Done<R> = (error: unknown, result?: R) => void;

/**
 * open, use, close (also when the use fails), as one promise whose steps are chained by callbacks,
 * the way fs.readFile works inside: a promise and an async frame per step cost a measurable share
 * of a warm scan's main thread, which is its bottleneck (docs/performance.md). The first error wins.
 *
 * `open` and `read` may wait for the disk, so they go through the thread pool. `fstat` and `close`
 * of a descriptor opened for reading cannot (the inode is in memory while the file is open, and
 * nothing is written back), so they run inline: handing a call to the pool cost the main thread
 * more (~6 µs, its lock contended by the pool's threads on two cores) than the system call itself.
 */
function withFile<R>(path: string, use: (fd: number, done: Done<R>) => void): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    open(path, "r", (openError, fd) => {
      if (openError) return reject(openError);
      let finished = false;
      const done: Done<R> = (error, result) => {
        if (finished) return;
        finished = true;
        let closeError: unknown;
        try {
          closeSync(fd);
        } catch (thrown) {
          closeError = thrown;
        }
        if (error) reject(error);
        else if (closeError) reject(closeError);
        else resolve(result as R);
      };
      try {
        use(fd, done);
      } catch (error) {
        done(error);
      }
    });
  });
}

/**
 * Scratch buffers for first reads, reused: allocating 16 KB per manifest would churn the garbage
 * collector through gigabytes on a large registry. What was read is copied out at its exact size.
 */
const scratch: Buffer[] = [];

/** Reads from `position` to the end of the file: the rest of a file larger than a first read. */
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
