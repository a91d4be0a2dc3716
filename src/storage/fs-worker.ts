/**
 * The body of a filesystem worker thread (fs-worker-pool.ts): synchronous, read-only calls, a
 * batch of them per message. A synchronous call in a thread of its own costs a system call and
 * nothing else; through libuv's pool every call also costs the main thread a hand-off and a
 * completion (docs/performance.md, the fifth session).
 *
 * Self-contained on purpose: the pool starts it from its source text (`String(fsWorkerMain)`), so
 * that the same code runs from `dist/` and from the TypeScript sources under test. It may use only
 * its argument and what it defines inside.
 */

/** Op kinds, as the pool sends them. */
export const OP = { listDir: 0, readFile: 1, readSmallFile: 2, stat: 3, probeDir: 4 } as const;

/** What one op gave: a value, or `{ error: code, message }`. */
export type WorkerResult =
  | { error: string; message: string }
  | { names: string[]; types: string }
  | { size: number; mtimeMs: number; dir: boolean; bytes?: Uint8Array }
  | Uint8Array
  | true;

/**
 * A batch: op kinds, paths and arguments (maxBytes for readSmallFile) side by side, the paths as
 * one string joined by NUL (which no path holds): one string is far cheaper to send than one per
 * call (postMessage was 17 % of the main thread with an array of strings).
 */
export interface WorkerBatch {
  id: number;
  kinds: Uint8Array;
  paths: string;
  args: Float64Array;
}

/** Runs in the worker: answers every batch with its results, in order. */
export function fsWorkerMain(load: (module: string) => unknown): void {
  const fs = load("node:fs") as typeof import("node:fs");
  const { parentPort } = load("node:worker_threads") as typeof import("node:worker_threads");
  const failed = (error: unknown): WorkerResult => {
    const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "EIO";
    return { error: code, message: error instanceof Error ? error.message : String(error) };
  };
  const listDir = (path: string): WorkerResult => {
    const names: string[] = [];
    let types = "";
    for (const entry of fs.readdirSync(path, { withFileTypes: true })) {
      names.push(entry.name);
      types += entry.isSymbolicLink() ? "l" : entry.isDirectory() ? "d" : "f";
    }
    return { names, types };
  };
  // An own ArrayBuffer of the file's size + 1, never a slice of Buffer's pool: a message copies
  // the whole buffer behind a view. The extra byte tells a file that grew since fstat.
  const readOpen = (fd: number, size: number): Uint8Array => {
    const buffer = Buffer.allocUnsafeSlow(size + 1);
    const bytesRead = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return bytesRead <= size ? buffer.subarray(0, bytesRead) : new Uint8Array(fs.readFileSync(fd));
  };
  const withFd = (path: string, use: (fd: number) => WorkerResult): WorkerResult => {
    const fd = fs.openSync(path, "r");
    try {
      return use(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
  const run = (kind: number, path: string, arg: number): WorkerResult => {
    if (kind === 0) return listDir(path);
    if (kind === 1) return withFd(path, (fd) => readOpen(fd, fs.fstatSync(fd).size));
    if (kind === 2) {
      return withFd(path, (fd) => {
        const stats = fs.fstatSync(fd);
        const head = { size: stats.size, mtimeMs: stats.mtimeMs, dir: stats.isDirectory() };
        return stats.size > arg ? head : { ...head, bytes: readOpen(fd, stats.size) };
      });
    }
    if (kind === 3) {
      const stats = fs.statSync(path, { throwIfNoEntry: false });
      if (stats === undefined) return { error: "ENOENT", message: `ENOENT: no such file or directory, stat '${path}'` };
      return { size: stats.size, mtimeMs: stats.mtimeMs, dir: stats.isDirectory() };
    }
    fs.opendirSync(path).closeSync();
    return true;
  };
  parentPort!.on("message", (batch: WorkerBatch) => {
    const results = new Array<WorkerResult>(batch.kinds.length);
    const paths = batch.paths.split("\0");
    for (let i = 0; i < results.length; i++) {
      try {
        results[i] = run(batch.kinds[i]!, paths[i]!, batch.args[i]!);
      } catch (error) {
        results[i] = failed(error);
      }
    }
    parentPort!.postMessage({ id: batch.id, results });
  });
}
