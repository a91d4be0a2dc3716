/**
 * A StorageFs whose calls run synchronously in a few worker threads (one per core), batched:
 * every call made in one turn of the event loop goes out in one message per worker, and comes
 * back in one. A warm scan through libuv's pool spent most of its main thread handing calls over
 * and taking completions back (open 21 %, close 10 %, stat 7 % of a --cpu-prof of the CLI dry
 * run of M); here the main thread pays one message per batch, and the system calls run beside
 * it on the other core. See docs/performance.md, the fifth session.
 *
 * A turn with only a few calls (the deletion phase's single stats and reads) goes through
 * `fallback` instead (storage-fs.ts's callback reads): a message round trip is dearer than a
 * libuv one when nothing is batched. A worker that dies hands its calls to the fallback.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type FileStats, type DirEntry, type StorageFs, nodeStorageFs } from "./storage-fs.js";
import { FLAG, fsWorkerMain, OP, type WorkerAnswer, type WorkerBatch } from "./fs-worker.js";
import { type NamedBelow, namedBelowVia } from "./named-below.js";

/** What one call gave, decoded from the answer: a value, or `{ error: code, message }`. */
export type WorkerResult =
  | { error: string; message: string }
  | { names: string[]; types: string }
  | { size: number; mtimeMs: number; dir: boolean; bytes?: Uint8Array }
  | Uint8Array
  | NamedBelow
  | true;

/**
 * Workers answering slower than this per call, on average over recent batches of MIN_JUDGED
 * calls or more, are waiting for the disk, not working: the pool then grows by one, every
 * JUDGED_BETWEEN such batches at most, up to MAX_WORKERS, so that more reads are in flight. A
 * warm call takes a few µs, a cold one ~90 µs on average (the synchronous walk of M). Measured
 * on M: 2 workers ran the cold dry run in 0.60 to 0.75x of the synchronous walk's time, 4 in
 * 0.48x, libuv's 4 threads in 0.36 to 0.41x; but 4 workers from the start made the warm run
 * slower (3.57x against 3.07x) and 20 MB larger, and growing on every slow batch (to 8) grew
 * them on a warm cache too (preempted workers), to 266 MB.
 */
const COLD_US_PER_CALL = 30;
const MIN_JUDGED = 32;
const JUDGED_BETWEEN = 4;
const MAX_WORKERS = 4;

/**
 * A worker's heap holds one batch at a time, all of it garbage once answered; V8's default young
 * generation (16 MB semi-spaces) let each worker grow to tens of MB. The CLI dry run of L peaked
 * at 485 MB with the defaults, against 285 MB before the workers.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 };

/** Calls in one turn below this go through the fallback. */
const MIN_BATCH = 8;
/** A batch is split over idle workers only when each part gets at least this many calls. */
const MIN_SHARE = 32;
/** What a statNamedBelow call counts as, in calls: it lists a folder and stats its hundreds or thousands of files. */
const NAMED_BELOW_WEIGHT = 256;

type Pending = { resolve: (result: WorkerResult) => void; reject: (error: unknown) => void };
type Call = Pending & { kind: number; path: string; arg: number };


interface Slot {
  worker: Worker;
  inFlight: Map<number, Call[]>;
  dead: boolean;
  answered: number;
}

/** A pool of filesystem worker threads, started on the first batch that needs them. */
export class FsWorkerPool {
  private slots: Slot[] | undefined;
  private queue: Call[] = [];
  private scheduled = false;
  private nextId = 0;
  private slowness = 0;
  private judged = 0;

  constructor(
    private readonly size: number = Math.max(1, Math.min(4, availableParallelism())),
    private readonly fallback: StorageFs = nodeStorageFs,
  ) {}

  /** Queues one call for the end of this turn. */
  call(kind: number, path: string, arg = 0): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, path, arg, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const calls = this.queue;
    this.queue = [];
    const weights = calls.map((call) => (call.kind === OP.statNamedBelow ? NAMED_BELOW_WEIGHT : 1));
    const weight = weights.reduce((sum, w) => sum + w, 0);
    const slots = weight >= MIN_BATCH ? this.live() : [];
    if (slots.length === 0) return void calls.forEach((call) => this.runFallback(call));
    // Idle workers first, then the least busy: a large batch is shared among the idle ones.
    const idle = slots.filter((slot) => slot.inFlight.size === 0);
    const targets = idle.length > 1 ? idle.slice(0, Math.max(1, Math.min(calls.length, Math.floor(weight / MIN_SHARE)))) : [leastBusy(slots)];
    // Consecutive runs of calls, of about the same weight each.
    const share = weight / targets.length;
    let start = 0;
    let sum = 0;
    targets.forEach((slot, t) => {
      let end = start;
      while (end < calls.length && (t === targets.length - 1 || sum + weights[end]! / 2 <= share * (t + 1))) sum += weights[end++]!;
      this.send(slot, calls.slice(start, end));
      start = end;
    });
  }

  private send(slot: Slot, calls: Call[]): void {
    if (calls.length === 0) return;
    const batch: WorkerBatch = {
      id: this.nextId++, kinds: new Uint8Array(calls.length), paths: calls.map((call) => call.path).join("\0"), args: new Float64Array(calls.length),
    };
    calls.forEach((call, i) => {
      batch.kinds[i] = call.kind;
      batch.args[i] = call.arg;
    });
    if (slot.inFlight.size === 0) slot.worker.ref();
    slot.inFlight.set(batch.id, calls);
    slot.worker.postMessage(batch);
  }

  private receive(slot: Slot, answer: WorkerAnswer): void {
    const calls = slot.inFlight.get(answer.id);
    if (!calls) return;
    slot.inFlight.delete(answer.id);
    // A worker's first batches run code not yet compiled: not judged.
    if (++slot.answered > 2 && calls.length >= MIN_JUDGED) this.judge((answer.ms * 1000) / calls.length);
    // Unreferenced while idle, so that an idle pool never keeps the process alive.
    if (slot.inFlight.size === 0) slot.worker.unref();
    calls.forEach((call, i) => call.resolve(decode(answer, i, call.kind)));
  }

  /**
   * A worker that died (it cannot start under some node flags, or ran out of its heap) hands its
   * calls to the fallback: a read the storage would answer must not become a read error.
   */
  private fail(slot: Slot): void {
    slot.dead = true;
    for (const calls of slot.inFlight.values()) calls.forEach((call) => this.runFallback(call));
    slot.inFlight.clear();
  }

  /** One worker more, while the disk keeps them waiting (a moving average of µs per call). */
  private judge(usPerCall: number): void {
    this.slowness = 0.75 * this.slowness + 0.25 * usPerCall;
    if (++this.judged < JUDGED_BETWEEN || this.slowness < COLD_US_PER_CALL) return;
    this.judged = 0;
    if (this.slots !== undefined && this.slots.length < MAX_WORKERS) this.slots.push(this.start());
  }

  private live(): Slot[] {
    this.slots ??= Array.from({ length: this.size }, () => this.start());
    return this.slots.filter((slot) => !slot.dead);
  }

  private start(): Slot {
    const worker = new Worker(`(${String(fsWorkerMain)})(require)`, {
      eval: true, resourceLimits: WORKER_HEAP,
      // Not the process's flags: --input-type=module would make this script a module without require.
      execArgv: [],
    });
    const slot: Slot = { worker, inFlight: new Map(), dead: false, answered: 0 };
    worker.on("message", (answer: WorkerAnswer) => this.receive(slot, answer));
    worker.on("error", () => this.fail(slot));
    worker.on("exit", () => this.fail(slot));
    // After the listeners: adding a 'message' listener refs the worker's port again, and a worker
    // that never got a batch then kept the process alive after the run (a dry run never exited).
    worker.unref();
    return slot;
  }

  private runFallback(call: Call): void {
    const fs = this.fallback;
    const done = (work: Promise<WorkerResult>): void => void work.then(call.resolve, call.reject);
    if (call.kind === OP.listDir) done(fs.listDir(call.path).then(entriesResult));
    else if (call.kind === OP.readFile) done(fs.readFile(call.path));
    else if (call.kind === OP.readSmallFile) {
      done(fs.readSmallFile(call.path, call.arg).then(({ stats, bytes }) => ({ ...statsResult(stats), ...(bytes ? { bytes } : {}) })));
    } else if (call.kind === OP.stat) done(fs.stat(call.path).then(statsResult));
    else if (call.kind === OP.statNamedBelow) {
      const cut = call.path.lastIndexOf("/*/");
      done(namedBelowVia(fs, call.path.slice(0, cut), call.path.slice(cut + 3)));
    }
    else done(fs.probeDir(call.path).then(() => true as const));
  }
}

/** The result of call `i` of an answer, as the pooled StorageFs reads it. */
function decode(answer: WorkerAnswer, i: number, kind: number): WorkerResult {
  const flags = answer.numbers[3 * i + 2]!;
  if (flags & FLAG.error) {
    const text = answer.texts[i]!;
    const cut = text.indexOf("\0");
    return { error: text.slice(0, cut), message: text.slice(cut + 1) };
  }
  if (kind === OP.statNamedBelow) return namedBelowOf(answer, i);
  const bytes = flags & FLAG.bytes ? Buffer.from(answer.bytes, answer.spans[2 * i]!, answer.spans[2 * i + 1]! - answer.spans[2 * i]!) : undefined;
  if (kind === OP.listDir) {
    const text = answer.texts[i]!;
    const cut = text.lastIndexOf("\0");
    return { names: cut === 0 ? [] : text.slice(0, cut).split("\0"), types: text.slice(cut + 1) };
  }
  if (kind === OP.readFile) return bytes!;
  if (kind === OP.probeDir) return true;
  const stats = { size: answer.numbers[3 * i]!, mtimeMs: answer.numbers[3 * i + 1]!, dir: (flags & FLAG.dir) !== 0 };
  return bytes === undefined ? stats : { ...stats, bytes };
}

function namedBelowOf(answer: WorkerAnswer, i: number): NamedBelow {
  const count = answer.numbers[3 * i]!;
  const start = answer.spans[2 * i]!;
  const stats = new Float64Array(answer.bytes, start, 2 * count);
  const names = Buffer.from(answer.bytes, start + 16 * count, answer.spans[2 * i + 1]! - start - 16 * count);
  const problems = new Map<number, Error>();
  if (answer.texts[i] !== "") {
    const parts = answer.texts[i]!.split("\0");
    for (let j = 0; j + 2 < parts.length; j += 3) problems.set(Number(parts[j]), systemError({ error: parts[j + 1]!, message: parts[j + 2]! }));
  }
  return { count, names, stats, problems };
}

/** An Error as the system would give it: `code` is what isMissing and describeFsError read. */
export function systemError(result: { error: string; message: string }): Error {
  return Object.assign(new Error(result.message), { code: result.error });
}

function leastBusy(slots: Slot[]): Slot {
  return slots.reduce((best, slot) => (slot.inFlight.size < best.inFlight.size ? slot : best));
}

function entriesResult(entries: DirEntry[]): WorkerResult {
  let types = "";
  for (const entry of entries) types += entry.isSymbolicLink() ? "l" : entry.isDirectory() ? "d" : "f";
  return { names: entries.map((entry) => entry.name), types };
}

function statsResult(stats: FileStats): { size: number; mtimeMs: number; dir: boolean } {
  return { size: stats.size, mtimeMs: stats.mtimeMs, dir: stats.isDirectory() };
}
