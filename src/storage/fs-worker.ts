/**
 * The body of a filesystem worker thread (fs-worker-pool.ts): synchronous, read-only calls, a
 * batch of them per message. A synchronous call in a thread of its own costs a system call and
 * nothing else; through libuv's pool every call also costs the main thread a hand-off and a
 * completion (docs/performance.md, the fifth session).
 *
 * Both ways a batch travels packed: one string of paths, typed arrays of numbers, and every byte
 * read in one transferred buffer. Sent as an array of objects, 400 stats cost ~190 µs a round
 * trip, packed ~26 µs; the main thread then builds the few objects it needs itself.
 *
 * Self-contained on purpose: the pool starts it from its source text (`String(fsWorkerMain)`), so
 * that the same code runs from `dist/` and from the TypeScript sources under test. It may use only
 * its argument and what it defines inside.
 */

/**
 * Op kinds, as the pool sends them. `statNamedBelow`'s path is `<folder>/*\/<name>`: `<name>` in
 * every subfolder of `<folder>` (named-below.ts), answered in one go.
 */
export const OP = { listDir: 0, readFile: 1, readSmallFile: 2, stat: 3, probeDir: 4, statNamedBelow: 5 } as const;

/** Flags of an answer, per op. */
export const FLAG = { dir: 1, bytes: 2, error: 4 } as const;

/** A batch: op kinds and arguments (maxBytes for readSmallFile) side by side, the paths joined by NUL (which no path holds). */
export interface WorkerBatch {
  id: number;
  kinds: Uint8Array;
  paths: string;
  args: Float64Array;
}

/**
 * The answer to a batch. Per op `i`: `numbers[3i..3i+2]` are size, mtimeMs and flags;
 * `spans[2i..2i+1]` where its bytes lie in `bytes`; `texts[i]` a listing (names joined by NUL,
 * then NUL and one type letter per name: `d`, `f`, `l`) or an error (code, NUL, message).
 * statNamedBelow: `numbers[3i]` how many subfolders; its bytes (8-byte aligned) a Float64 size
 * and mtimeMs per subfolder, then their names in UTF-8 joined by NUL (bytes, not a string: a
 * string that large is allocated straight into the main thread's old generation); `texts[i]`
 * `index NUL code NUL message` for each file that could not be stat'ed, joined by NUL.
 */
export interface WorkerAnswer {
  id: number;
  numbers: Float64Array;
  spans: Uint32Array;
  bytes: ArrayBuffer;
  texts: string[];
  /** How long the worker took over the batch, in ms: tells a warm cache from a disk being waited for. */
  ms: number;
}

/** Runs in the worker: answers every batch, in order. */
export function fsWorkerMain(load: (module: string) => unknown): void {
  const fs = load("node:fs") as typeof import("node:fs");
  const { parentPort } = load("node:worker_threads") as typeof import("node:worker_threads");
  const answer = (batch: WorkerBatch): WorkerAnswer => {
    const started = performance.now();
    const count = batch.kinds.length;
    const paths = batch.paths.split("\0");
    const numbers = new Float64Array(count * 3);
    const spans = new Uint32Array(count * 2);
    const texts = new Array<string>(count).fill("");
    let bytes = new Uint8Array(new ArrayBuffer(64 * 1024));
    let used = 0;
    const reserve = (room: number): void => {
      if (bytes.length - used >= room) return;
      const bigger = new Uint8Array(new ArrayBuffer(Math.max(bytes.length * 2, used + room)));
      bigger.set(bytes.subarray(0, used));
      bytes = bigger;
    };
    // Reads the open file whole at the end of `bytes`; one byte more than fstat said tells a file that grew.
    const readAll = (i: number, fd: number, size: number): void => {
      for (let room = size + 1; ; room *= 2) {
        reserve(room);
        const read = fs.readSync(fd, bytes, used, room, 0);
        if (read < room) {
          spans[2 * i] = used;
          spans[2 * i + 1] = used + read;
          used += read;
          numbers[3 * i + 2] = numbers[3 * i + 2]! | 2;
          return;
        }
      }
    };
    const statNamedBelow = (i: number, path: string): void => {
      const cut = path.lastIndexOf("/*/");
      const folder = path.slice(0, cut);
      const name = path.slice(cut + 3);
      // Dirent's isDirectory is false for a symbolic link: those are not followed.
      const keys: string[] = [];
      for (const entry of fs.readdirSync(folder, { withFileTypes: true })) if (entry.isDirectory()) keys.push(`${entry.name}/`);
      keys.sort();
      used = Math.ceil(used / 8) * 8;
      reserve(16 * keys.length);
      const stats = new Float64Array(bytes.buffer, used, 2 * keys.length);
      const names: string[] = [];
      const problems: string[] = [];
      for (const key of keys) {
        let found: import("node:fs").Stats | undefined;
        try {
          found = fs.statSync(`${folder}/${key}${name}`, { throwIfNoEntry: false });
          if (found === undefined || found.isDirectory()) continue;
        } catch (error) {
          problems.push(`${names.length}\0${codeOf(error)}\0${messageOf(error)}`);
        }
        stats[2 * names.length] = found?.size ?? 0;
        stats[2 * names.length + 1] = found?.mtimeMs ?? 0;
        names.push(key.slice(0, -1));
      }
      spans[2 * i] = used;
      used += 16 * names.length;
      const joined = Buffer.from(names.join("\0"));
      reserve(joined.length);
      bytes.set(joined, used);
      used += joined.length;
      spans[2 * i + 1] = used;
      numbers[3 * i] = names.length;
      numbers[3 * i + 2] = 2;
      texts[i] = problems.join("\0");
    };
    const setStats = (i: number, stats: import("node:fs").Stats): void => {
      numbers[3 * i] = stats.size;
      numbers[3 * i + 1] = stats.mtimeMs;
      numbers[3 * i + 2] = stats.isDirectory() ? 1 : 0;
    };
    const run = (i: number, kind: number, path: string, arg: number): void => {
      if (kind === 0) {
        const entries = fs.readdirSync(path, { withFileTypes: true });
        const types = entries.map((entry) => (entry.isSymbolicLink() ? "l" : entry.isDirectory() ? "d" : "f")).join("");
        texts[i] = `${entries.map((entry) => entry.name).join("\0")}\0${types}`;
      } else if (kind === 1 || kind === 2) {
        const fd = fs.openSync(path, "r");
        try {
          const stats = fs.fstatSync(fd);
          setStats(i, stats);
          if (kind === 1 || stats.size <= arg) readAll(i, fd, stats.size);
        } finally {
          fs.closeSync(fd);
        }
      } else if (kind === 3) {
        const stats = fs.statSync(path, { throwIfNoEntry: false });
        if (stats !== undefined) setStats(i, stats);
        else fail(i, { code: "ENOENT", message: `ENOENT: no such file or directory, stat '${path}'` });
      } else if (kind === 5) {
        statNamedBelow(i, path);
      } else {
        fs.opendirSync(path).closeSync();
      }
    };
    const codeOf = (error: unknown): string =>
      typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "EIO";
    const messageOf = (error: unknown): string =>
      typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error);
    const fail = (i: number, error: unknown): void => {
      numbers[3 * i + 2] = 4;
      texts[i] = `${codeOf(error)}\0${messageOf(error)}`;
    };
    for (let i = 0; i < count; i++) {
      try {
        run(i, batch.kinds[i]!, paths[i]!, batch.args[i]!);
      } catch (error) {
        fail(i, error);
      }
    }
    return { id: batch.id, numbers, spans, bytes: bytes.buffer.slice(0, used), texts, ms: performance.now() - started };
  };
  parentPort!.on("message", (batch: WorkerBatch) => {
    const reply = answer(batch);
    parentPort!.postMessage(reply, [reply.bytes]);
  });
}
