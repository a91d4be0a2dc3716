/**
 * Decides, for every manifest of one repository, whether it is kept (and why) or deleted
 * (GITLAB.md §6). Pure and deterministic: the same snapshot and options give the same plan,
 * whatever the order of `snapshot.revisions` or of the tag map.
 */
import { deletedTagsByDigest, planTags } from "./plan-tags.js";
import { markedBlobs } from "./space.js";
import type { Digest } from "./digest.js";
import { describeKeepReason } from "./keep-reason.js";
import type {
  Candidate,
  KeepReason,
  KeptManifest,
  PlanOptions,
  RepositoryPlan,
  RepositorySnapshot,
  Revision,
  StorageWarning,
} from "./types.js";

/**
 * Plans one repository. Every distinct revision ends up in exactly one of `kept` or `candidates`,
 * both sorted by digest. Runs in O(n log n) for n revisions (the sort); the closure over indexes
 * and referrers is linear in revisions plus references.
 */
export function planRepository(snapshot: RepositorySnapshot, options: PlanOptions): RepositoryPlan {
  const byDigest = indexRevisions(snapshot.revisions);
  const warnings = [...snapshot.warnings];
  const tagPlan = planTags(snapshot, options);
  const tagsByDigest = groupTags(snapshot, tagPlan.remaining, byDigest, warnings);
  const reasons = new Map<Digest, KeepReason>();
  const roots = keepRoots(byDigest, tagsByDigest, options, reasons);
  keepReachable(roots, byDigest, reasons);
  const unsafe = findUnsafeProblem(snapshot, byDigest, reasons);

  const untaggedBy = deletedTagsByDigest(tagPlan.decisions);
  const kept: KeptManifest[] = [];
  const candidates: Candidate[] = [];
  for (const [digest, revision] of byDigest) {
    const reason = reasons.get(digest) ?? fallbackReason(revision, unsafe);
    if (reason) kept.push({ digest, reason });
    // fallbackReason keeps every revision without a manifest, so a candidate always has one.
    else candidates.push(candidateOf(revision, options, untaggedBy.get(digest)));
  }
  const plan: RepositoryPlan = { name: snapshot.name, tags: new Map(snapshot.tags), kept, candidates, warnings };
  if (tagPlan.decisions) plan.tagDecisions = tagPlan.decisions;
  return plan;
}

function candidateOf(revision: Revision, options: PlanOptions, untaggedBy: string[] | undefined): Candidate {
  const candidate: Candidate = {
    digest: revision.digest, mediaType: revision.manifest!.mediaType, ageMs: ageOf(revision, options), blobs: markedBlobs(revision),
  };
  if (untaggedBy) candidate.untaggedBy = untaggedBy;
  return candidate;
}

/**
 * The grace period: the policy's, stretched in a re-plan to cover the time since `since`, so that
 * anything linked after it (pushed during the run) is a root that keeps what it references.
 */
function graceMs(options: PlanOptions): number {
  const { minAgeMs } = options.policy;
  return options.since === undefined ? minAgeMs : Math.max(minAgeMs, options.now - options.since);
}

/** Revisions by digest, in digest order. A digest listed twice counts once (the first wins). */
function indexRevisions(revisions: Revision[]): Map<Digest, Revision> {
  const sorted = [...revisions].sort((a, b) => compare(a.digest, b.digest));
  const byDigest = new Map<Digest, Revision>();
  for (const revision of sorted) {
    if (!byDigest.has(revision.digest)) byDigest.set(revision.digest, revision);
  }
  return byDigest;
}

/**
 * Tags per digest, sorted. A tag naming a digest with no revision here is broken (a pull of it
 * fails); the admin should hear about it, and findUnsafeProblem keeps the repository whole,
 * because the target may be an index whose revision link alone was lost (a corrupt link file).
 */
function groupTags(
  snapshot: RepositorySnapshot,
  tags: ReadonlyMap<string, Digest>,
  byDigest: Map<Digest, Revision>,
  warnings: StorageWarning[],
): Map<Digest, string[]> {
  const tagsByDigest = new Map<Digest, string[]>();
  for (const tag of [...tags.keys()].sort(compare)) {
    const digest = tags.get(tag)!;
    if (!byDigest.has(digest)) {
      warnings.push({
        path: `${snapshot.name}/_manifests/tags/${tag}`,
        message:
          `tag "${tag}" points at ${digest}, which has no readable revision in this repository: ` +
          "the tag is broken, and nothing in the repository is deleted since it may reference anything",
      });
      continue;
    }
    const onDigest = tagsByDigest.get(digest);
    if (onDigest) onDigest.push(tag);
    else tagsByDigest.set(digest, [tag]);
  }
  return tagsByDigest;
}

/**
 * Records the tagged and too-young manifests and returns them as closure roots: tagged first, so
 * that a manifest reachable from both is explained by the tag, which outlives the grace period.
 */
function keepRoots(
  byDigest: Map<Digest, Revision>,
  tagsByDigest: Map<Digest, string[]>,
  options: PlanOptions,
  reasons: Map<Digest, KeepReason>,
): Digest[] {
  const tagged: Digest[] = [];
  const young: Digest[] = [];
  const grace = graceMs(options);
  for (const [digest, revision] of byDigest) {
    const tags = tagsByDigest.get(digest);
    const ageMs = ageOf(revision, options);
    if (tags) {
      reasons.set(digest, { kind: "tagged", tags });
      tagged.push(digest);
    } else if (grace > 0 && ageMs < grace) {
      reasons.set(digest, { kind: "too-young", ageMs });
      young.push(digest);
    }
  }
  return [...tagged, ...young];
}

/**
 * Breadth-first closure from the roots over index children and referrers, to a fixpoint. A
 * digest is queued once, so cycles (an index listing itself, two indexes listing each other)
 * end. Each reason names a manifest discovered earlier, so explanations never go round in a
 * circle; for the same reason a referrer is re-explained as an index child only by an index
 * discovered before it (index-child outranks referrer).
 */
function keepReachable(roots: Digest[], byDigest: Map<Digest, Revision>, reasons: Map<Digest, KeepReason>): void {
  const referrers = indexReferrers(byDigest);
  const queue = [...roots];
  const position = new Map<Digest, number>(queue.map((digest, index) => [digest, index]));
  const keep = (digest: Digest, reason: KeepReason): void => {
    reasons.set(digest, reason);
    position.set(digest, queue.length);
    queue.push(digest);
  };
  for (let head = 0; head < queue.length; head++) {
    const parent = queue[head]!;
    const manifest = byDigest.get(parent)!.manifest;
    if (!manifest) continue; // unreadable: nothing known to follow (and the repository is unsafe)
    for (const { digest } of manifest.children) {
      // Only descriptors with a revision here: buildx cache indexes list layer blobs, not manifests.
      if (!byDigest.has(digest)) continue;
      const known = reasons.get(digest);
      if (!known) keep(digest, { kind: "index-child", parent });
      else if (known.kind === "referrer" && position.get(digest)! > head) {
        reasons.set(digest, { kind: "index-child", parent });
      }
    }
    for (const referrer of referrers.get(parent) ?? []) {
      if (!reasons.has(referrer)) keep(referrer, { kind: "referrer", subject: parent });
    }
  }
}

/** subject -> the revisions that name it as `subject`, built once (in digest order). */
function indexReferrers(byDigest: Map<Digest, Revision>): Map<Digest, Digest[]> {
  const referrers = new Map<Digest, Digest[]>();
  for (const [digest, revision] of byDigest) {
    const subject = revision.manifest?.subject;
    if (subject === undefined) continue;
    const list = referrers.get(subject);
    if (list) list.push(digest);
    else referrers.set(subject, [digest]);
  }
  return referrers;
}

/**
 * Why nothing else in the repository can be judged, or undefined when it can: a tag whose target
 * is unknown, or a kept manifest whose content (and so what it references) is unknown.
 */
function findUnsafeProblem(
  snapshot: RepositorySnapshot,
  byDigest: Map<Digest, Revision>,
  reasons: Map<Digest, KeepReason>,
): string | undefined {
  const problems: string[] = [];
  const unreadableTags = [...snapshot.unreadableTags].sort((a, b) => compare(a.tag, b.tag));
  for (const { tag, problem } of unreadableTags) {
    problems.push(`tag "${tag}" cannot be read (${problem}), so the manifest it points at is unknown`);
  }
  for (const tag of [...snapshot.tags.keys()].sort(compare)) {
    const digest = snapshot.tags.get(tag)!;
    if (!byDigest.has(digest)) {
      problems.push(`tag "${tag}" points at ${digest}, which has no readable revision, so what it references is unknown`);
    }
  }
  for (const [digest, reason] of reasons) {
    const revision = byDigest.get(digest)!;
    if (revision.manifest) continue;
    problems.push(
      `manifest ${digest} is kept (${describeKeepReason(reason)}) but cannot be read` +
        ` (${revision.problem ?? "no reason recorded"}), so what it references is unknown`,
    );
  }
  if (problems.length === 0) return undefined;
  const more = problems.length - 1;
  return more === 0 ? problems[0] : `${problems[0]}; and ${more} more problem${more === 1 ? "" : "s"}`;
}

/** The reason for a manifest neither a root nor reachable from one, or undefined to delete it. */
function fallbackReason(revision: Revision, unsafe: string | undefined): KeepReason | undefined {
  if (!revision.manifest) return { kind: "unreadable", problem: revision.problem ?? "no reason recorded" };
  if (unsafe !== undefined) return { kind: "repository-unsafe", problem: unsafe };
  return undefined;
}

/**
 * ms since the revision link was written. A link dated in the future (clock skew between the
 * storage host and `now`) counts as just pushed, so it is protected by any grace period.
 */
function ageOf(revision: Revision, options: PlanOptions): number {
  return Math.max(0, options.now - revision.linkedAt);
}

/** Code-unit order, independent of locale, for reproducible output. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
