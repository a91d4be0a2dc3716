/**
 * A queue between a producer that pushes and one consumer that iterates: the scan pushes each
 * planned repository, and a dry run's executor takes them as they come (cleanup.ts). Iteration
 * ends after `close`, once what was pushed is taken; after `fail`, it throws that error instead.
 */
export class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #closed = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  push(item: T): void {
    this.#items.push(item);
    this.#wakeUp();
  }

  close(): void {
    this.#closed = true;
    this.#wakeUp();
  }

  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#wakeUp();
  }

  /** What was pushed and not yet taken. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Takes what was pushed and not yet taken, without waiting or throwing. */
  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.#head < this.#items.length) {
        const item = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined as T;
        if (this.#head === this.#items.length) {
          this.#items = [];
          this.#head = 0;
        }
        yield item;
        continue;
      }
      if (this.#failure) throw this.#failure.error;
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
