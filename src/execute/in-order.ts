/**
 * Values handed on in the order of their indexes, whatever order they are finished in: the scan
 * reads a few repositories at once and finishes them out of order, but what it hands on (and so
 * what a dry run prints) must follow the listing, which is sorted by name.
 */
export class InOrder<T> {
  #next = 0;
  readonly #finished = new Map<number, T | undefined>();

  constructor(private readonly release: (value: T) => void) {}

  /** Index `index` (0, 1, 2, ... each once) is finished, with a value to hand on or none. */
  finish(index: number, value?: T): void {
    this.#finished.set(index, value);
    while (this.#finished.has(this.#next)) {
      const ready = this.#finished.get(this.#next);
      this.#finished.delete(this.#next++);
      if (ready !== undefined) this.release(ready);
    }
  }

  /** How many finished values wait for an earlier index. */
  get waiting(): number {
    return this.#finished.size;
  }
}

/** The items of `items` with their position, counted from 0. */
export async function* numbered<T>(items: AsyncIterable<T>): AsyncGenerator<[number, T]> {
  let index = 0;
  for await (const item of items) yield [index++, item];
}
