/**
 * What garbage collection will free, computed as the registry's plain garbage-collect marks:
 * every manifest that still has a revision link marks its own blob and everything it references
 * (index children, config, layers); every blob on disk left unmarked is swept.
 * Pure: the caller feeds it revisions and the blobs found on disk.
 *
 * Memory: a registry of a million manifests references millions of blobs, so blobs are tracked as
 * numeric keys in typed arrays (8 bytes each), not as digest strings in Sets (~100 bytes each).
 */
import { type Digest, HEX_VALUE } from "./digest.js";
import type { RepositoryName } from "./repository-name.js";
import { recordSegment, RepositoryShares, type RepositorySpace } from "./repository-space.js";
import { KeyList } from "./key-list.js";
import { ReleasedKeys } from "./released-keys.js";
import { contains, distinct, distinctInPlace } from "./sorted-keys.js";
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
  // From the characters, not parseInt of a slice: 32 ns a key instead of ~80 here, on the millions
  // of references a large scan keys (a digest is checked hex when parsed, so every lookup is a digit).
  const hex = digest.indexOf(":") + 1;
  let key = 0;
  for (let i = hex; i < hex + 13; i++) key = key * 16 + HEX_VALUE[digest.charCodeAt(i)]!;
  return key;
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
  /** Released keys: each repository's distinct ones, one repository after another. */
  private readonly released = new KeyList();
  /** Each repository that released something, and where its keys start in `released`. */
  private readonly repositories: Array<{ name: RepositoryName; manifests: number; start: number }> = [];
  /** Where the marks of repositories named to `keep` lie in `marked`, for `measure`. */
  private readonly segments = new Map<RepositoryName, number[]>();

  /**
   * A manifest (or several) that keeps its revision link. Naming its `repository` lets `measure`
   * tell that repository's own blobs from shared ones.
   */
  keep(keys: Iterable<number>, repository?: RepositoryName): void {
    const start = this.marked.length;
    for (const key of keys) this.marked.push(key);
    if (repository !== undefined) recordSegment(this.segments, repository, start, this.marked.length);
  }

  /** `manifests` manifests of `repository` whose links are (or, in a dry run, would be) removed. */
  release(repository: RepositoryName, manifests: number, keys: Iterable<number>): void {
    if (manifests === 0) return;
    this.repositories.push({ name: repository, manifests, start: this.released.length });
    for (const key of distinct(keys)) this.released.push(key);
  }

  /**
   * Classifies every blob on disk. `top` limits the repository list. The ledger's last call: it
   * sorts the keys it holds in place rather than copy them (a million manifests hold millions).
   * Blobs are expected in digest order (as the storage lists them); others are counted the same,
   * more slowly (released-keys.ts).
   */
  async estimate(blobsOnDisk: AsyncIterable<{ digest: Digest; size: number }>, top = 10): Promise<SpaceEstimate> {
    return (await this.measure(blobsOnDisk, { top })).space;
  }

  /**
   * `estimate`, and in the same pass over the blob store what each of `repositories` holds alone
   * and shares (only marks given with their repository's name count as that repository's).
   */
  async measure(
    blobsOnDisk: AsyncIterable<{ digest: Digest; size: number }>,
    options: { top?: number; repositories?: readonly RepositoryName[] } = {},
  ): Promise<{ space: SpaceEstimate; repositories: RepositorySpace[] }> {
    const shares = RepositoryShares.take(this.marked.view(), this.segments, options.repositories ?? []);
    if (!shares.isEmpty) shares.settle(this.marked.view().sort());
    const marked = distinctInPlace(this.marked.view());
    const released = new ReleasedKeys(this.released, this.repositories.map((repository) => repository.start));
    // What each entry of `repositories` frees.
    const freedBytes = new Float64Array(this.repositories.length);
    const before = totals();
    const freedByRun = totals();
    const alreadyUnreferenced = totals();
    for await (const { digest, size } of blobsOnDisk) {
      add(before, size);
      const key = blobKey(digest);
      if (contains(marked, key)) {
        if (!shares.isEmpty) shares.add(key, size);
        continue;
      }
      if (released.find(key, (repository) => (freedBytes[repository] = freedBytes[repository]! + size))) {
        add(freedByRun, size);
      } else {
        add(alreadyUnreferenced, size);
      }
    }
    const after = {
      blobs: before.blobs - freedByRun.blobs - alreadyUnreferenced.blobs,
      bytes: before.bytes - freedByRun.bytes - alreadyUnreferenced.bytes,
    };
    const topRepositories = this.topRepositories(freedBytes, options.top ?? 10);
    return { space: { before, after, freedByRun, alreadyUnreferenced, topRepositories }, repositories: shares.rows() };
  }

  /** The repositories that free the most, from what each entry of `repositories` frees. */
  private topRepositories(freedBytes: Float64Array, top: number): SpaceEstimate["topRepositories"] {
    const rows = this.repositories.map((repository, i) => ({ name: repository.name, bytes: freedBytes[i]!, manifests: repository.manifests }));
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
