/**
 * Which repositories released a blob, asked blob after blob in key order (the order the storage
 * lists the blob store in). Each repository's released keys are one sorted run of the ledger's
 * list; the runs are merged as the blobs come, through a heap of one cursor per run, so that
 * nothing the size of the released keys is copied. A sorted copy of them, plus a size for each,
 * was twice 24 MB on L at the moment the scan's garbage was still waiting to be collected.
 */
import type { KeyList } from "./key-list.js";

/** Restarts of the merge before it gives way to a search per run: one per digest algorithm is expected. */
const MAX_RESTARTS = 4;

export class ReleasedKeys {
  /** Each run's next key: the position in `keys`, and where the run ends. */
  private readonly next: Uint32Array;
  private readonly ends: Uint32Array;
  /** The runs not yet used up, as a binary heap ordered by their next key. */
  private readonly heap: Uint32Array;
  private size = 0;
  private last = -Infinity;
  private restarts = 0;
  private searching = false;

  /** `starts[i]` is where run i begins in `keys`; it ends where the next begins. */
  constructor(
    private readonly keys: KeyList,
    private readonly starts: readonly number[],
  ) {
    this.next = new Uint32Array(starts.length);
    this.ends = Uint32Array.from(starts, (_, i) => starts[i + 1] ?? keys.length);
    this.heap = new Uint32Array(starts.length);
    this.restart();
  }

  /**
   * Calls `each` with every run that holds `key`, and says whether one did. Keys asked in
   * ascending order cost a pass over the runs in all; a smaller key than the last (a second
   * digest algorithm) starts the merge again. Blobs listed out of order (no storage does) would
   * make that quadratic: after a few restarts each run is searched instead.
   */
  find(key: number, each: (run: number) => void): boolean {
    if (this.searching) return this.search(key, each);
    if (key < this.last) {
      this.searching = ++this.restarts > MAX_RESTARTS;
      if (this.searching) return this.search(key, each);
      this.restart();
    }
    this.last = key;
    // Runs stay on a key equal to the one asked: the same key may be asked again.
    while (this.size > 0 && this.head(this.heap[0]!) < key) {
      const run = this.heap[0]!;
      if (++this.next[run]! < this.ends[run]!) this.siftDown(0);
      else this.pop();
    }
    return this.visit(0, key, each);
  }

  /** The runs at `node` and below whose next key is `key` (the smallest: none below differs). */
  private visit(node: number, key: number, each: (run: number) => void): boolean {
    if (node >= this.size || this.head(this.heap[node]!) !== key) return false;
    each(this.heap[node]!);
    this.visit(2 * node + 1, key, each);
    this.visit(2 * node + 2, key, each);
    return true;
  }

  /** Every run that holds `key`, by a binary search in each. */
  private search(key: number, each: (run: number) => void): boolean {
    let found = false;
    for (let run = 0; run < this.starts.length; run++) {
      let low = this.starts[run]!;
      let high = this.ends[run]!;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (this.keys.at(middle) < key) low = middle + 1;
        else high = middle;
      }
      if (low < this.ends[run]! && this.keys.at(low) === key) {
        each(run);
        found = true;
      }
    }
    return found;
  }

  private restart(): void {
    this.size = 0;
    this.last = -Infinity;
    for (let run = 0; run < this.starts.length; run++) {
      this.next[run] = this.starts[run]!;
      if (this.next[run]! < this.ends[run]!) this.heap[this.size++] = run;
    }
    for (let node = (this.size >> 1) - 1; node >= 0; node--) this.siftDown(node);
  }

  private head(run: number): number {
    return this.keys.at(this.next[run]!);
  }

  private pop(): void {
    this.heap[0] = this.heap[--this.size]!;
    if (this.size > 0) this.siftDown(0);
  }

  private siftDown(node: number): void {
    const heap = this.heap;
    const run = heap[node]!;
    const key = this.head(run);
    for (;;) {
      let child = 2 * node + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.head(heap[child + 1]!) < this.head(heap[child]!)) child++;
      if (this.head(heap[child]!) >= key) break;
      heap[node] = heap[child]!;
      node = child;
    }
    heap[node] = run;
  }
}
