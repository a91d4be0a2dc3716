/**
 * The one place concurrency lives: a bounded pool of workers over a list, and a counting
 * semaphore for limits shared across pools. Both stop taking new work once `signal` aborts.
 */

/**
 * Runs `worker` over `items` with at most `concurrency` in flight. Items not yet started when
 * the signal aborts are left alone; in-flight ones finish. Rejects with the first worker error
 * after in-flight work settles.
 */
export async function forEachBounded<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  worker: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const iterator = toAsyncIterator(items);
  let failure: { error: unknown } | undefined;
  const next = async (): Promise<void> => {
    while (!failure && !signal?.aborted) {
      const step = await iterator.next();
      if (step.done) return;
      try {
        await worker(step.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, next));
  if (failure) throw failure.error;
}

/** A counting semaphore: `use(fn)` waits for a free slot, runs fn, frees the slot. */
export class Semaphore {
  private available: number;
  private readonly waiting: Array<() => void> = [];

  constructor(slots: number) {
    this.available = Math.max(1, slots);
  }

  async use<R>(fn: () => Promise<R>): Promise<R> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const wake = this.waiting.shift();
      if (wake) wake();
      else this.available++;
    }
  }
}

function toAsyncIterator<T>(items: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in items) return items[Symbol.asyncIterator]();
  const sync = items[Symbol.iterator]();
  // Serialise pulls so concurrent workers never call next() on a sync iterator re-entrantly.
  return { next: async () => sync.next() };
}
