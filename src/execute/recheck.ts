/**
 * Re-checking a repository while its candidates are deleted. Before the first delete the
 * repository must be exactly as scanned (same tags, same revision links with the same mtimes), or
 * it is planned again from disk; it is planned again whenever a cheap look before a batch shows a
 * change: a tag added, moved or removed, or a revision directory that was not there before.
 * Whatever was pushed since the scan then counts as just pushed, so what it lists or signs is kept.
 */
import { createHash } from "node:crypto";
import { describeKeepReason } from "../core/keep-reason.js";
import type { Digest } from "../core/digest.js";
import { planRepository } from "../core/plan.js";
import type { RunPolicy } from "../core/policy.js";
import type { ManifestOutcome } from "../core/report.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { Revision } from "../core/types.js";
import type { ChangeWatch } from "../storage/change-watch.js";
import type { StorageReader } from "../storage/storage-reader.js";

/** What the last plan of a repository said, and what the disk looked like when it was made. */
export interface Watch {
  name: RepositoryName;
  /** Manifests linked after this time (ms since the epoch) were pushed during the run. */
  since: number;
  tags: Map<string, Digest>;
  /** Revision directories seen; undefined when the storage cannot list them. */
  revisions: Set<Digest> | undefined;
  stillCandidate: Set<Digest>;
  /** Why each kept manifest is kept, in the words the report uses. */
  keptNow: Map<Digest, string>;
  /** Re-plans made after the first, for the report and the benchmark. */
  replans: number;
  /**
   * The change watch's mark taken right before the read that found the repository as this plan
   * has it (see `refresh`); undefined when the next batch must read again.
   */
  quietMark?: number | undefined;
}

/** The verdict on a candidate the latest plan no longer deletes. */
export type Recheck = Pick<ManifestOutcome, "kind" | "detail">;

export interface RecheckContext {
  storage: StorageReader;
  now: () => number;
  /** The run's rules, the same the scan planned with. */
  policy: RunPolicy;
}

/** What the scan saw of a repository: enough to go on from its plan if nothing changed since. */
export interface Scanned {
  /** When the scan started reading it (ms since the epoch). */
  since: number;
  /** {@link repositoryStamp} of what it read; absent when the plan may not be reused (see cleanup.ts). */
  stamp?: string;
  candidates: Digest[];
}

/**
 * A fingerprint of a repository's tags and of its live revision links with their mtimes: equal
 * stamps mean no tag was added, moved or removed and no manifest was pushed, re-pushed or deleted
 * in between (a push rewrites the link, a delete removes it). Manifest blobs need no check: they
 * are named by their content. A stamp instead of the tags themselves: a million-manifest run holds
 * one per repository from the scan to its turn.
 */
export function repositoryStamp(links: ReadonlyArray<Pick<Revision, "digest" | "linkedAt">>, tags: ReadonlyMap<string, Digest>): string {
  const hash = createHash("sha256");
  const byDigest = [...links].sort((a, b) => compare(a.digest, b.digest));
  for (const link of byDigest) hash.update(`link ${link.digest} ${link.linkedAt}\n`);
  for (const tag of [...tags.keys()].sort(compare)) hash.update(`tag ${tag} ${tags.get(tag)!}\n`);
  return hash.digest("base64");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The watch to start deleting with: the scan's own plan when the tags and every revision link are
 * as scanned (a stat per revision instead of reading and parsing every manifest again), else a
 * fresh plan. Reusing it is never less safe than planning again: with nothing linked since the
 * scan, a new plan would keep the same manifests or, as the grace period moves on, fewer.
 */
export async function resume(name: RepositoryName, scanned: Scanned, ctx: RecheckContext): Promise<Watch> {
  const { storage } = ctx;
  if (scanned.stamp !== undefined && storage.statRevisions) {
    const [revisions, now] = await Promise.all([storage.statRevisions(name), storage.readTags(name)]);
    const unchanged = now.unreadableTags.length === 0 && repositoryStamp(revisions.links, now.tags) === scanned.stamp;
    if (unchanged) {
      return {
        name, since: scanned.since, tags: now.tags, revisions: new Set(revisions.directories), replans: 0,
        stillCandidate: new Set(scanned.candidates), keptNow: new Map(),
      };
    }
  }
  return replan(name, scanned.since, ctx);
}

/**
 * Plans the repository again from disk. The grace period is stretched to cover the time since
 * `since`, so that anything linked after it (pushed during the run) is a root that keeps what it
 * references, whatever --min-age says; what was there before `since` is judged as in the scan.
 */
export async function replan(name: RepositoryName, since: number, ctx: RecheckContext): Promise<Watch> {
  // Listed before the read: anything that appears in between shows up as new next time.
  const revisions = ctx.storage.listRevisionDigests ? new Set(await ctx.storage.listRevisionDigests(name)) : undefined;
  const now = ctx.now();
  const snapshot = await ctx.storage.readRepository(name);
  // Tags were decided before this repository's deletes (and dealt with): only manifests here.
  const plan = planRepository(snapshot, { now, policy: ctx.policy, since, retention: false });
  return {
    name, since, tags: snapshot.tags, revisions, replans: 0,
    stillCandidate: new Set(plan.candidates.map((candidate) => candidate.digest)),
    keptNow: new Map(plan.kept.map((kept) => [kept.digest, describeKeepReason(kept.reason)] as const)),
  };
}

/** Why the watch's plan no longer deletes `digest`, or undefined while it still does. */
export function verdictOf(watch: Watch, digest: Digest): Recheck | undefined {
  if (watch.stillCandidate.has(digest)) return undefined;
  const reason = watch.keptNow.get(digest);
  return reason === undefined
    ? { kind: "already-gone", detail: "its revision link disappeared before the delete" }
    : { kind: "kept-on-recheck", detail: `changed since the scan, now kept: ${reason}` };
}

/**
 * Right before a batch: re-lists revision directories and re-reads the tags, and plans again if
 * either changed. Returns the watch to use for the batch (the same object when nothing changed).
 * With `changes` (a storage that watches), the read is skipped while the watch saw nothing change
 * since the last read began: that read would find the same.
 */
export async function refresh(watch: Watch, ctx: RecheckContext, changes?: ChangeWatch): Promise<Watch> {
  if (changes && watch.quietMark !== undefined) {
    // What the kernel reported before this point is delivered first.
    await new Promise((resolve) => setImmediate(resolve));
    if (changes.quietSince(watch.quietMark)) return watch;
  }
  const mark = changes?.mark();
  const revisions = ctx.storage.listRevisionDigests ? await ctx.storage.listRevisionDigests(watch.name) : undefined;
  const { tags, unreadableTags } = await ctx.storage.readTags(watch.name);
  const appeared = revisions !== undefined && revisions.some((digest) => !watch.revisions?.has(digest));
  if (!appeared && unreadableTags.length === 0 && sameTags(tags, watch.tags)) {
    watch.quietMark = quietMarkOf(mark, changes, tags);
    return watch;
  }
  // Changed: the next batch reads again (with every tag watched by then) before it may skip.
  changes?.watchTags(tags.keys());
  const fresh = await replan(watch.name, watch.since, ctx);
  return { ...fresh, replans: watch.replans + 1 };
}

/**
 * The mark that lets the next batch skip its read: none when a tag just read was not watched
 * before the read (it may have moved during it, unseen).
 */
function quietMarkOf(mark: number | undefined, changes: ChangeWatch | undefined, tags: Map<string, Digest>): number | undefined {
  if (mark === undefined || !changes) return undefined;
  return changes.watchTags(tags.keys()) ? undefined : mark;
}

function sameTags(a: Map<string, Digest>, b: Map<string, Digest>): boolean {
  if (a.size !== b.size) return false;
  for (const [tag, digest] of a) if (b.get(tag) !== digest) return false;
  return true;
}
