/**
 * Where the space goes (`gitlab-registry-cleanup usage`): for every repository, and rolled up per
 * GitLab project and per top-level group, the bytes its manifests reference, the bytes kept
 * manifests (tagged ones included) need, the bytes only untagged manifests a cleanup deletes hold
 * (what the cleanup plus garbage collection frees), and the bytes shared with repositories
 * outside the row. Every blob counts once per row, whatever the number of manifests or
 * repositories in it that reference it. Pure: the caller lists the blob store and feeds the
 * repositories one by one, as planned by core/plan.ts.
 *
 * Sizes are the blob store's (what `du` and garbage collection see), not what manifests
 * declare: a blob a manifest names but the store lacks takes no space and is not counted.
 *
 * Memory, for a registry of B blobs on disk and R repositories each referencing d_r distinct
 * blobs (the scan reads a million manifests; this keeps none of them):
 * - the blob store: 20 bytes per blob (its 52-bit key and size as doubles, and a 32-bit word with
 *   the number of repositories referencing it and whether a kept manifest anywhere does);
 * - per repository: 4 bytes per distinct blob it references (its index in the blob store, and
 *   whether a kept manifest of the repository marks it), plus its name and counters (~150 bytes);
 * - while a repository is added: 4 bytes per blob reference of its manifests, reused;
 * - while the report is made: 8 more bytes per blob (a scope stamp and a per-scope count), and one
 *   row object per repository, project and group.
 * So about 20 B + 4 * sum(d_r) + 150 R bytes in all: a million blobs and 10 million
 * repository-blob pairs are ~65 MB of typed arrays, allocated in a few buffers, not heap objects.
 */
import type { Digest } from "./digest.js";
import type { RepositoryName } from "./repository-name.js";
import { indexOf } from "./sorted-keys.js";
import { blobKey, markedBlobs } from "./space.js";
import type { RepositoryPlan, RepositorySnapshot } from "./types.js";

/** One manifest of a repository: the blobs it makes garbage collection keep, and its fate in the plan. */
export interface ManifestFacts {
  /** Its own blob, its children, config and layers (core/space.ts markedBlobs). */
  blobs: readonly Digest[];
  /** Kept by the plan (tagged, in a kept index, a referrer, younger than --min-age…); false: a candidate. */
  kept: boolean;
}

/** What the report needs to know about one repository. */
export interface RepositoryFacts {
  name: RepositoryName;
  /** The GitLab project owning it; null when GitLab knows none; absent when GitLab was not asked. */
  project?: string | null;
  tags: number;
  manifests: Iterable<ManifestFacts>;
}

/** Bytes of one row. Each blob counts once in a row. */
export interface UsageBytes {
  /** Every blob the row's manifests reference: its size. */
  bytes: number;
  /** Blobs a kept manifest of the row (tagged or otherwise kept) references. */
  keptBytes: number;
  /** Blobs only the row's untagged candidates reference and nothing kept anywhere does: what a cleanup frees. */
  freeableBytes: number;
  /** Blobs a repository outside the row references too (any manifest of it, kept or not). */
  sharedBytes: number;
}

/** One row of the report: a repository, a project, a top-level group, or all of them. */
export interface UsageRow extends UsageBytes {
  name: string;
  repositories: number;
  tags: number;
  manifests: number;
  /** Untagged manifests a cleanup with this --min-age deletes. */
  candidates: number;
}

export interface RepositoryUsage extends UsageRow {
  group: string;
  /** As in RepositoryFacts. */
  project?: string | null;
}

export interface UsageReport {
  /** Every row below is sorted by freeable bytes, then bytes, then name. */
  repositories: RepositoryUsage[];
  /** Per project; only when projects were looked up. Repositories without a project are in none. */
  projects?: UsageRow[];
  groups: UsageRow[];
  /** The repositories GitLab knows no project for, together; only when projects were looked up. */
  withoutProject?: UsageRow;
  total: UsageRow;
  blobStore: { blobs: number; bytes: number; unreferencedBlobs: number; unreferencedBytes: number };
}

/** The facts of a planned repository: every revision, kept unless the plan made it a candidate. */
export function repositoryFacts(snapshot: RepositorySnapshot, plan: RepositoryPlan, project?: string | null): RepositoryFacts {
  const candidates = new Set<Digest>(plan.candidates.map((candidate) => candidate.digest));
  return {
    name: snapshot.name,
    ...(project === undefined ? {} : { project }),
    tags: snapshot.tags.size,
    manifests: snapshot.revisions.map((revision) => ({ blobs: markedBlobs(revision), kept: !candidates.has(revision.digest) })),
  };
}

/** The top bit of a 32-bit word: "kept" in the blob store's counts and in the scopes' counts. */
const KEPT = 0x80000000;
const COUNT = 0x7fffffff;

interface StoredRepository {
  name: RepositoryName;
  project?: string | null;
  tags: number;
  manifests: number;
  candidates: number;
  /** Sorted, distinct: `2 * blob index + 1` when a kept manifest here marks it, else `2 * blob index`. */
  entries: Uint32Array;
}

/** Collects the repositories against one listing of the blob store, then makes the report. */
export class UsageLedger {
  private readonly repositories: StoredRepository[] = [];
  /** Per blob: repositories referencing it (low 31 bits), and KEPT when a kept manifest anywhere does. */
  private readonly references: Uint32Array;
  private scratch: Uint32Array<ArrayBuffer> = new Uint32Array(4096);

  private constructor(
    private readonly keys: Float64Array,
    private readonly sizes: Float64Array,
  ) {
    this.references = new Uint32Array(keys.length);
  }

  /** Lists the blob store once (expected in digest order, as the storage lists it; others are sorted). */
  static async fromBlobStore(blobs: AsyncIterable<{ digest: Digest; size: number }>): Promise<UsageLedger> {
    let keys = new Float64Array(4096);
    let sizes = new Float64Array(4096);
    let length = 0;
    for await (const { digest, size } of blobs) {
      if (length === keys.length) [keys, sizes] = [grow(keys), grow(sizes)];
      keys[length] = blobKey(digest);
      sizes[length++] = size;
    }
    return new UsageLedger(...sortedByKey(keys.slice(0, length), sizes.slice(0, length)));
  }

  /** Adds one repository. Manifests listed twice, and blobs listed by several manifests, count once. */
  add(facts: RepositoryFacts): void {
    let references = 0;
    let manifests = 0;
    let candidates = 0;
    for (const manifest of facts.manifests) {
      manifests++;
      if (!manifest.kept) candidates++;
      for (const digest of manifest.blobs) {
        const at = indexOf(this.keys, blobKey(digest));
        if (at < 0) continue; // not in the blob store: it takes no space
        if (references === this.scratch.length) this.scratch = growWords(this.scratch);
        this.scratch[references++] = 2 * at + (manifest.kept ? 1 : 0);
      }
    }
    const entries = this.distinctEntries(references);
    for (const entry of entries) {
      const at = entry >>> 1;
      const word = this.references[at]!;
      this.references[at] = ((word & COUNT) + 1) | (word & KEPT) | ((entry & 1) === 1 ? KEPT : 0);
    }
    this.repositories.push({
      name: facts.name, tags: facts.tags, manifests, candidates, entries,
      ...(facts.project === undefined ? {} : { project: facts.project }),
    });
  }

  /** The report over every repository added so far. */
  report(): UsageReport {
    const measure = scopeMeasure(this.sizes, this.references);
    const lookedUp = this.repositories.some((repository) => repository.project !== undefined);
    const repositories = this.repositories.map((repository): RepositoryUsage => ({
      ...row(repository.name, [repository], measure),
      group: groupOf(repository.name),
      ...(repository.project === undefined ? {} : { project: repository.project }),
    }));
    const report: UsageReport = {
      repositories: repositories.sort(byFreeable),
      groups: rollUp(this.repositories, (repository) => groupOf(repository.name), measure),
      total: row("total", this.repositories, measure),
      blobStore: this.blobStore(),
    };
    if (lookedUp) {
      report.projects = rollUp(this.repositories, (repository) => repository.project ?? undefined, measure);
      report.withoutProject = row("without a project", this.repositories.filter((r) => r.project === null), measure);
    }
    return report;
  }

  /** Sorts the scratch references, keeps each blob once (kept if any kept manifest marks it), copies them out. */
  private distinctEntries(count: number): Uint32Array {
    const listed = this.scratch.subarray(0, count).sort();
    let write = 0;
    for (let read = 0; read < listed.length; read++) {
      const entry = listed[read]!;
      // Same blob as the previous entry: `2i + 1` sorts after `2i`, so the last of a run is kept if any is.
      if (write > 0 && listed[write - 1]! >>> 1 === entry >>> 1) listed[write - 1] = entry;
      else listed[write++] = entry;
    }
    return listed.slice(0, write);
  }

  private blobStore(): UsageReport["blobStore"] {
    const store = { blobs: this.keys.length, bytes: 0, unreferencedBlobs: 0, unreferencedBytes: 0 };
    for (let at = 0; at < this.keys.length; at++) {
      store.bytes += this.sizes[at]!;
      if (this.references[at] === 0) {
        store.unreferencedBlobs++;
        store.unreferencedBytes += this.sizes[at]!;
      }
    }
    return store;
  }
}

type Measure = (members: readonly StoredRepository[]) => UsageBytes;

/**
 * Measures a set of repositories in two passes over their entries, with two words per blob
 * allocated once: a stamp (which pass saw the blob last) and the scope's count of repositories
 * referencing it, with KEPT when a kept manifest of the scope marks it.
 */
function scopeMeasure(sizes: Float64Array, references: Uint32Array): Measure {
  const stamp = new Int32Array(sizes.length);
  const inScope = new Uint32Array(sizes.length);
  let pass = 0;
  return (members) => {
    const counting = ++pass;
    for (const { entries } of members) {
      for (const entry of entries) {
        const at = entry >>> 1;
        const kept = (entry & 1) === 1 ? KEPT : 0;
        if (stamp[at] !== counting) {
          stamp[at] = counting;
          inScope[at] = 1 | kept;
        } else {
          inScope[at] = ((inScope[at]! & COUNT) + 1) | (inScope[at]! & KEPT) | kept;
        }
      }
    }
    const summing = ++pass;
    const bytes: UsageBytes = { bytes: 0, keptBytes: 0, freeableBytes: 0, sharedBytes: 0 };
    for (const { entries } of members) {
      for (const entry of entries) {
        const at = entry >>> 1;
        if (stamp[at] === summing) continue;
        stamp[at] = summing;
        const size = sizes[at]!;
        const everywhere = references[at]!;
        bytes.bytes += size;
        if ((inScope[at]! & KEPT) !== 0) bytes.keptBytes += size;
        if ((everywhere & KEPT) === 0) bytes.freeableBytes += size;
        if ((everywhere & COUNT) > (inScope[at]! & COUNT)) bytes.sharedBytes += size;
      }
    }
    return bytes;
  };
}

function row(name: string, members: readonly StoredRepository[], measure: Measure): UsageRow {
  let tags = 0;
  let manifests = 0;
  let candidates = 0;
  for (const repository of members) {
    tags += repository.tags;
    manifests += repository.manifests;
    candidates += repository.candidates;
  }
  return { name, repositories: members.length, tags, manifests, candidates, ...measure(members) };
}

/** One row per distinct `keyOf` value (repositories it returns undefined for are left out), sorted. */
function rollUp(
  repositories: readonly StoredRepository[],
  keyOf: (repository: StoredRepository) => string | undefined,
  measure: Measure,
): UsageRow[] {
  const members = new Map<string, StoredRepository[]>();
  for (const repository of repositories) {
    const key = keyOf(repository);
    if (key === undefined) continue;
    const list = members.get(key);
    if (list) list.push(repository);
    else members.set(key, [repository]);
  }
  return [...members].map(([name, list]) => row(name, list, measure)).sort(byFreeable);
}

/** The top-level group (or user namespace): the first path element. */
export function groupOf(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? name : name.slice(0, slash);
}

/** What a cleanup frees first, then size, then name (code-unit order, for reproducible output). */
function byFreeable(a: UsageRow, b: UsageRow): number {
  return b.freeableBytes - a.freeableBytes || b.bytes - a.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The listing in key order: digest order is key order for sha256, so this is usually a check. */
function sortedByKey(keys: Float64Array, sizes: Float64Array): [Float64Array, Float64Array] {
  let ascending = true;
  for (let i = 1; i < keys.length && ascending; i++) ascending = keys[i - 1]! <= keys[i]!;
  if (ascending) return [keys, sizes];
  const order = Array.from({ length: keys.length }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]!);
  return [Float64Array.from(order, (i) => keys[i]!), Float64Array.from(order, (i) => sizes[i]!)];
}

/** By half again: the blob store listing is the largest array, and its last growth mostly sits empty. */
function grow(array: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(Math.ceil(array.length * 1.5));
  bigger.set(array);
  return bigger;
}

function growWords(array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
