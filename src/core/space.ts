/**
 * What garbage collection will free, computed as the registry's plain garbage-collect marks:
 * every manifest that still has a revision link marks its own blob and everything it references
 * (index children, config, layers); every blob on disk left unmarked is swept.
 * Pure: the caller feeds it revisions and the blobs found on disk.
 *
 * Memory: a registry of a million manifests references millions of blobs, so blobs are tracked as
 * numeric keys in typed arrays (8 bytes each), not as digest strings in Sets (~100 bytes each).
 */
import type { Digest } from "./digest.js";
import type { RepositoryName } from "./repository-name.js";
import type { Revision } from "./types.js";

/** The blobs a manifest makes garbage collection keep: itself, its children, config and layers. */
export function markedBlobs(revision: Pick<Revision, "digest" | "manifest">): Digest[] {
  const manifest = revision.manifest;
  if (!manifest) return [revision.digest];
  return [revision.digest, ...manifest.children.map((child) => child.digest), ...manifest.blobs.map((blob) => blob.digest)];
}

/**
 * A blob's key: the first 52 bits of its digest, an exact integer in a double. Two blobs of a
 * registry of 2 million share a key with a chance of about 1 in 2,000, and that would move the
 * estimate by one blob; it never decides what is deleted.
 */
export function blobKey(digest: Digest): number {
  const hex = digest.indexOf(":") + 1;
  return parseInt(digest.slice(hex, hex + 13), 16);
}

export interface BlobTotals {
  blobs: number;
  bytes: number;
}

export interface SpaceEstimate {
  /** Blob store now. */
  before: BlobTotals;
  /** Blob store after garbage collection. */
  after: BlobTotals;
  /** Blobs only the deleted manifests used (and those manifests' own blobs). */
  freedByRun: BlobTotals;
  /** Blobs no manifest references even before this run: the same collection removes them. */
  alreadyUnreferenced: BlobTotals;
  /** Repositories by bytes their deleted manifests free (a blob freed by two counts in both). */
  topRepositories: Array<{ name: RepositoryName; bytes: number; manifests: number }>;
}

/** Accumulates what stays and what goes while the run proceeds, then classifies the blob store. */
export class SpaceLedger {
  private readonly marked = new KeyList();
  /** Released keys, each repository's distinct ones together, with the repository's index. */
  private readonly released = new KeyList();
  private releasedBy = new Uint32Array(1024);
  private readonly repositories: Array<{ name: RepositoryName; manifests: number }> = [];

  /** A manifest (or several) that keeps its revision link. */
  keep(keys: Iterable<number>): void {
    for (const key of keys) this.marked.push(key);
  }

  /** `manifests` manifests of `repository` whose links are (or, in a dry run, would be) removed. */
  release(repository: RepositoryName, manifests: number, keys: Iterable<number>): void {
    if (manifests === 0) return;
    const index = this.repositories.push({ name: repository, manifests }) - 1;
    for (const key of distinct(keys)) {
      if (this.released.length === this.releasedBy.length) this.releasedBy = grow(this.releasedBy);
      this.releasedBy[this.released.length] = index;
      this.released.push(key);
    }
  }

  /** Classifies every blob on disk. `top` limits the repository list. */
  async estimate(blobsOnDisk: AsyncIterable<{ digest: Digest; size: number }>, top = 10): Promise<SpaceEstimate> {
    const marked = distinct(this.marked.view());
    const released = distinct(this.released.view());
    const before = totals();
    const freedByRun = totals();
    const alreadyUnreferenced = totals();
    const freed = new KeyList();
    const freedSizes: number[] = [];
    for await (const { digest, size } of blobsOnDisk) {
      add(before, size);
      const key = blobKey(digest);
      if (contains(marked, key)) continue;
      if (contains(released, key)) {
        add(freedByRun, size);
        freed.push(key);
        freedSizes.push(size);
      } else {
        add(alreadyUnreferenced, size);
      }
    }
    const after = {
      blobs: before.blobs - freedByRun.blobs - alreadyUnreferenced.blobs,
      bytes: before.bytes - freedByRun.bytes - alreadyUnreferenced.bytes,
    };
    return { before, after, freedByRun, alreadyUnreferenced, topRepositories: this.topRepositories(freed, freedSizes, top) };
  }

  private topRepositories(freed: KeyList, sizes: number[], top: number): SpaceEstimate["topRepositories"] {
    // Sort the freed keys with their sizes, then credit each release with the size it frees.
    const order = Array.from({ length: freed.length }, (_, i) => i).sort((a, b) => freed.at(a) - freed.at(b));
    const keys = Float64Array.from(order, (i) => freed.at(i));
    const bytes = order.map((i) => sizes[i]!);
    const totalsByRepository = new Float64Array(this.repositories.length);
    const releasedKeys = this.released.view();
    for (let i = 0; i < releasedKeys.length; i++) {
      const at = indexOf(keys, releasedKeys[i]!);
      if (at >= 0) totalsByRepository[this.releasedBy[i]!]! += bytes[at]!;
    }
    const rows = this.repositories.map((r, i) => ({ name: r.name, bytes: totalsByRepository[i]!, manifests: r.manifests }));
    rows.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
    return rows.slice(0, top);
  }
}

/** A growable list of keys. */
class KeyList {
  private data = new Float64Array(1024);
  length = 0;

  push(key: number): void {
    if (this.length === this.data.length) this.data = grow(this.data);
    this.data[this.length++] = key;
  }

  at(index: number): number {
    return this.data[index]!;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

function grow<T extends Float64Array | Uint32Array>(array: T): T {
  const bigger = new (array.constructor as { new (length: number): T })(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Sorted, without repeats. */
function distinct(keys: Iterable<number>): Float64Array {
  const sorted = Float64Array.from(keys).sort();
  let write = 0;
  for (let read = 0; read < sorted.length; read++) {
    if (read === 0 || sorted[read] !== sorted[write - 1]) sorted[write++] = sorted[read]!;
  }
  return sorted.subarray(0, write);
}

function contains(sorted: Float64Array, key: number): boolean {
  return indexOf(sorted, key) >= 0;
}

function indexOf(sorted: Float64Array, key: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = sorted[middle]!;
    if (value === key) return middle;
    if (value < key) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

function totals(): BlobTotals {
  return { blobs: 0, bytes: 0 };
}

function add(target: BlobTotals, size: number): void {
  target.blobs++;
  target.bytes += size;
}
