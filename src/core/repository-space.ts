/**
 * How much of the blob store a few chosen repositories hold (orphans, for the report): the blobs
 * only each of them references after the run, which removing it would let garbage collection
 * free, and the ones it shares. Computed from the space ledger's marks (which repository pushed
 * which stretch of them) and its one pass over the blob store: no second read of the storage.
 */
import type { RepositoryName } from "./repository-name.js";
import { distinct, lowerBound, occurrences } from "./sorted-keys.js";

/** One repository's part of the blob store, by the sizes on disk. */
export interface RepositorySpace {
  name: RepositoryName;
  /** Blobs no other repository's remaining manifests reference: what removing it would free. */
  uniqueBlobs: number;
  uniqueBytes: number;
  /** Blobs it references that another repository's remaining manifests reference too. */
  sharedBlobs: number;
  sharedBytes: number;
}

/** Records, per repository, where its marks lie in the ledger's list: flat start, end pairs. */
export function recordSegment(segments: Map<RepositoryName, number[]>, name: RepositoryName, start: number, end: number): void {
  if (end <= start) return;
  const pairs = segments.get(name);
  if (!pairs) return void segments.set(name, [start, end]);
  // A repository's manifests are marked in one synchronous loop: its stretches usually touch.
  if (pairs[pairs.length - 1] === start) pairs[pairs.length - 1] = end;
  else pairs.push(start, end);
}

/**
 * The chosen repositories' distinct blob keys, sorted together, each with its owner and whether
 * it is the owner's alone. Built from the marks before the ledger sorts them, settled after.
 */
export class RepositoryShares {
  readonly #rows: RepositorySpace[];
  readonly #keys: Float64Array;
  readonly #owners: Int32Array;
  /** How often the owner marked the key; after settle, 1 where the owner is the only one, else 0. */
  readonly #marks: Float64Array;

  private constructor(rows: RepositorySpace[], keys: Float64Array, owners: Int32Array, marks: Float64Array) {
    this.#rows = rows;
    this.#keys = keys;
    this.#owners = owners;
    this.#marks = marks;
  }

  /** Copies the keys each named repository marked out of `marked`, the ledger's list as pushed. */
  static take(marked: Float64Array, segments: ReadonlyMap<RepositoryName, readonly number[]>, names: readonly RepositoryName[]): RepositoryShares {
    const entries: Array<{ key: number; owner: number; marks: number }> = [];
    names.forEach((name, owner) => {
      const pairs = segments.get(name) ?? [];
      const own: number[] = [];
      for (let i = 0; i < pairs.length; i += 2) for (let j = pairs[i]!; j < pairs[i + 1]!; j++) own.push(marked[j]!);
      const counts = new Map<number, number>();
      for (const key of own) counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const key of distinct(own)) entries.push({ key, owner, marks: counts.get(key)! });
    });
    entries.sort((a, b) => a.key - b.key || a.owner - b.owner);
    const rows = names.map((name) => ({ name, uniqueBlobs: 0, uniqueBytes: 0, sharedBlobs: 0, sharedBytes: 0 }));
    return new RepositoryShares(
      rows, Float64Array.from(entries, (e) => e.key), Int32Array.from(entries, (e) => e.owner), Float64Array.from(entries, (e) => e.marks),
    );
  }

  /** With every mark sorted (repeats kept): a key is its owner's alone when all its marks are the owner's. */
  settle(sortedMarks: Float64Array): void {
    for (let i = 0; i < this.#keys.length; i++) this.#marks[i] = occurrences(sortedMarks, this.#keys[i]!) === this.#marks[i] ? 1 : 0;
  }

  /** A blob on disk that some remaining manifest marks: credited to the chosen repositories that hold it. */
  add(key: number, size: number): void {
    for (let i = lowerBound(this.#keys, key); i < this.#keys.length && this.#keys[i] === key; i++) {
      const row = this.#rows[this.#owners[i]!]!;
      if (this.#marks[i] === 1) {
        row.uniqueBlobs++;
        row.uniqueBytes += size;
      } else {
        row.sharedBlobs++;
        row.sharedBytes += size;
      }
    }
  }

  get isEmpty(): boolean {
    return this.#keys.length === 0;
  }

  /** The rows, in the order the repositories were named. */
  rows(): RepositorySpace[] {
    return this.#rows;
  }
}
