/**
 * What garbage collection will free, computed exactly as the registry's plain garbage-collect
 * marks: every manifest that still has a revision link marks its own blob and everything it
 * references (index children, config, layers); every blob on disk left unmarked is swept.
 * Pure: the caller feeds it revisions and the blobs found on disk.
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

/**
 * Accumulates what stays and what goes while the run proceeds, then classifies the blob store.
 * Memory: one Set entry per distinct referenced blob, plus the references of deleted manifests.
 */
export class SpaceLedger {
  private readonly marked = new Set<Digest>();
  private readonly gone = new Map<RepositoryName, { manifests: number; blobs: Set<Digest> }>();

  /** A manifest that keeps its revision link. */
  keep(blobs: Iterable<Digest>): void {
    for (const blob of blobs) this.marked.add(blob);
  }

  /** A manifest whose revision link is (or, in a dry run, would be) removed. */
  release(repository: RepositoryName, blobs: Iterable<Digest>): void {
    let entry = this.gone.get(repository);
    if (!entry) this.gone.set(repository, (entry = { manifests: 0, blobs: new Set() }));
    entry.manifests++;
    for (const blob of blobs) entry.blobs.add(blob);
  }

  /** Classifies every blob on disk. `top` limits the repository list. */
  async estimate(blobsOnDisk: AsyncIterable<{ digest: Digest; size: number }>, top = 10): Promise<SpaceEstimate> {
    const released = new Set<Digest>();
    for (const entry of this.gone.values()) for (const blob of entry.blobs) released.add(blob);
    const before = totals();
    const freedByRun = totals();
    const alreadyUnreferenced = totals();
    const freedSizes = new Map<Digest, number>();
    for await (const { digest, size } of blobsOnDisk) {
      add(before, size);
      if (this.marked.has(digest)) continue;
      if (released.has(digest)) {
        add(freedByRun, size);
        freedSizes.set(digest, size);
      } else {
        add(alreadyUnreferenced, size);
      }
    }
    const after = {
      blobs: before.blobs - freedByRun.blobs - alreadyUnreferenced.blobs,
      bytes: before.bytes - freedByRun.bytes - alreadyUnreferenced.bytes,
    };
    return { before, after, freedByRun, alreadyUnreferenced, topRepositories: this.topRepositories(freedSizes, top) };
  }

  private topRepositories(freedSizes: Map<Digest, number>, top: number): SpaceEstimate["topRepositories"] {
    const rows = [...this.gone].map(([name, entry]) => {
      let bytes = 0;
      for (const blob of entry.blobs) bytes += freedSizes.get(blob) ?? 0;
      return { name, bytes, manifests: entry.manifests };
    });
    rows.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
    return rows.slice(0, top);
  }
}

function totals(): BlobTotals {
  return { blobs: 0, bytes: 0 };
}

function add(target: BlobTotals, size: number): void {
  target.blobs++;
  target.bytes += size;
}
