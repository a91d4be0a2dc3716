/** A list of blob keys (core/space.ts) that grows without copying. */

/** Keys in a chunk of a KeyList: 2^16, 512 KB. */
const CHUNK_BITS = 16;
const CHUNK = 2 ** CHUNK_BITS;

/**
 * A growable list of keys, in chunks: the ledger's lists are its largest part (on L the released
 * keys are millions), and a list grown by copying held the old copy, the new one and its empty
 * half at once.
 */
export class KeyList {
  private readonly chunks: Float64Array[] = [];
  /** The keys, when `view` made them one array; pushes after that go to new chunks. */
  private whole: Float64Array = new Float64Array(0);
  length = 0;

  push(key: number): void {
    const at = this.length++ - this.whole.length;
    if (at % CHUNK === 0) this.chunks.push(new Float64Array(CHUNK));
    this.chunks[this.chunks.length - 1]![at % CHUNK] = key;
  }

  at(i: number): number {
    if (i < this.whole.length) return this.whole[i]!;
    const at = i - this.whole.length;
    return this.chunks[at >>> CHUNK_BITS]![at & (CHUNK - 1)]!;
  }

  /** The keys as one array of their own. */
  copy(): Float64Array {
    const keys = new Float64Array(this.length);
    keys.set(this.whole);
    let at = this.whole.length;
    for (const chunk of this.chunks) {
      const part = chunk.subarray(0, Math.min(CHUNK, this.length - at));
      keys.set(part, at);
      at += part.length;
    }
    return keys;
  }

  /** The keys as one array the ledger may sort in place; the chunks are let go. */
  view(): Float64Array {
    if (this.chunks.length > 0) {
      this.whole = this.copy();
      this.chunks.length = 0;
    }
    return this.whole;
  }
}
