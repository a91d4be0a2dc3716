/**
 * Repairs after a repository's deletes: which of the manifests this run deleted were needed after
 * all, because CI pushed onto them while their DELETEs were in flight (the registry has no
 * conditional delete, so a push inside that window cannot be prevented, only undone).
 *
 * The deleted manifests are put back into the repository's snapshot as they were (their blobs
 * stay in the blob store until garbage collection), together with what the storage watch saw
 * vanish, and the repository is planned again with the run's own keep graph: whatever that plan
 * keeps for a tag, an index, a subject or a fresh push is needed, so it is restored. Pure.
 */
import { type Digest, shortDigest } from "./digest.js";
import type { ParsedManifest } from "./manifest.js";
import { planRepository } from "./plan.js";
import type { RunPolicy } from "./policy.js";
import type { KeepReason, RepositorySnapshot, Revision } from "./types.js";

/** A manifest this run deleted in the repository, as its blob still says. */
export interface DeletedManifest {
  digest: Digest;
  manifest: ParsedManifest;
  /** When the storage watch saw its revision link written again by someone else (ms), if it did. */
  pushedAgainAt?: number;
}

export interface RepairInput {
  /** The repository as the storage holds it now. */
  snapshot: RepositorySnapshot;
  deleted: readonly DeletedManifest[];
  /**
   * Tags that appeared or moved during the deletes and are gone now, with the deleted manifest
   * they were pushed onto: the registry's DELETE removes every tag on the digest it deletes.
   */
  vanishedTags: ReadonlyMap<string, Digest>;
  now: number;
  policy: RunPolicy;
  /** When the run started reading the repository: what was linked since counts as just pushed. */
  since: number;
}

/** Why a deleted manifest is put back. */
export type RepairReason =
  | { kind: "tagged"; tags: string[] }
  | { kind: "listed"; index: Digest }
  | { kind: "refers"; subject: Digest }
  | { kind: "pushed-again" };

/** One manifest to put back: by each of `tags` (a PUT by tag also links it), or by digest. */
export interface Repair {
  digest: Digest;
  tags: string[];
  reason: RepairReason;
}

/**
 * The deleted manifests to put back, in an order the registry accepts: children before the
 * indexes that list them (a PUT of an index whose children are missing is refused).
 */
export function planRepairs(input: RepairInput): Repair[] {
  const deleted = new Map(input.deleted.map((entry) => [entry.digest, entry] as const));
  const linked = new Set(input.snapshot.revisions.map((revision) => revision.digest));
  const restorable = input.deleted.filter((entry) => !linked.has(entry.digest));
  const retag = lostTags(input, deleted, linked);
  if (restorable.length === 0) return retag;
  const tags = new Map(input.snapshot.tags);
  for (const [tag, digest] of input.vanishedTags) if (!tags.has(tag)) tags.set(tag, digest);
  const snapshot: RepositorySnapshot = {
    ...input.snapshot, tags, revisions: [...input.snapshot.revisions, ...restorable.map(asRevision)],
  };
  const plan = planRepository(snapshot, { now: input.now, policy: input.policy, since: input.since, retention: false });
  const repairs: Repair[] = [];
  for (const { digest, reason } of plan.kept) {
    if (!deleted.has(digest) || linked.has(digest)) continue;
    const why = repairReason(reason);
    if (why) repairs.push({ digest, tags: why.kind === "tagged" ? why.tags : [], reason: why });
  }
  return [...childrenFirst(repairs, deleted), ...retag];
}

/**
 * Tags the DELETE of a manifest took although it is linked again now: pushed once more (another
 * tag, an index re-pushing it), or the very push whose tag went had re-written its link after the
 * DELETE removed it. The manifest is there; only the tags need putting back.
 */
function lostTags(input: RepairInput, deleted: ReadonlyMap<Digest, DeletedManifest>, linked: ReadonlySet<Digest>): Repair[] {
  const byDigest = new Map<Digest, string[]>();
  for (const [tag, digest] of input.vanishedTags) {
    if (input.snapshot.tags.has(tag) || !deleted.has(digest) || !linked.has(digest)) continue;
    const list = byDigest.get(digest);
    if (list) list.push(tag);
    else byDigest.set(digest, [tag]);
  }
  return [...byDigest].map(([digest, tags]) => {
    const sorted = [...tags].sort();
    return { digest, tags: sorted, reason: { kind: "tagged", tags: sorted } };
  });
}

/** A deleted manifest as an unlinked revision: old, unless the watch saw it pushed again. */
function asRevision(entry: DeletedManifest): Revision {
  return { digest: entry.digest, linkedAt: entry.pushedAgainAt ?? 0, manifest: entry.manifest };
}

/**
 * Only what something pushed needs. A repository that cannot be judged (an unreadable tag, say,
 * caught mid-write) keeps everything, which says nothing about the deleted manifests: the caller
 * looks again instead.
 */
function repairReason(reason: KeepReason): RepairReason | undefined {
  switch (reason.kind) {
    case "tagged":
      return { kind: "tagged", tags: reason.tags };
    case "index-child":
      return { kind: "listed", index: reason.parent };
    case "referrer":
      return { kind: "refers", subject: reason.subject };
    case "too-young":
      return { kind: "pushed-again" };
    case "unreadable":
    case "repository-unsafe":
      return undefined;
  }
}

/** Orders repairs so that every restored child comes before a restored index listing it. */
function childrenFirst(repairs: Repair[], deleted: ReadonlyMap<Digest, DeletedManifest>): Repair[] {
  const inRepair = new Set(repairs.map((repair) => repair.digest));
  const height = new Map<Digest, number>();
  const heightOf = (digest: Digest, path: Set<Digest>): number => {
    const known = height.get(digest);
    if (known !== undefined) return known;
    if (path.has(digest)) return 0; // an index listing itself: no order to respect
    path.add(digest);
    let result = 0;
    for (const child of deleted.get(digest)?.manifest.children ?? []) {
      if (inRepair.has(child.digest)) result = Math.max(result, heightOf(child.digest, path) + 1);
    }
    path.delete(digest);
    height.set(digest, result);
    return result;
  };
  return repairs
    .map((repair, index) => ({ repair, index, height: heightOf(repair.digest, new Set()) }))
    .sort((a, b) => a.height - b.height || a.index - b.index)
    .map((entry) => entry.repair);
}

/** Why it was put back, in the words of the report: `tag v2 was pushed onto it during the cleanup`. */
export function describeRepair(reason: RepairReason): string {
  switch (reason.kind) {
    case "tagged":
      return reason.tags.length === 1
        ? `tag ${reason.tags[0]} was pushed onto it during the cleanup`
        : `tags ${reason.tags.join(", ")} were pushed onto it during the cleanup`;
    case "listed":
      return `index ${shortDigest(reason.index)}, pushed or tagged during the cleanup, lists it`;
    case "refers":
      return `it refers to ${shortDigest(reason.subject)}, which was pushed or tagged during the cleanup`;
    case "pushed-again":
      return "it was pushed again during the cleanup";
  }
}
