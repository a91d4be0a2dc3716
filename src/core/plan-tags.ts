/**
 * Tag retention inside the plan: which tags of a repository this run deletes (core/retention.ts
 * decides, with GitLab's semantics), and the tags that remain for planning its manifests.
 */
import type { Digest } from "./digest.js";
import { retentionFor } from "./policy.js";
import { decideTags, type TagDecisions, type TagFact } from "./retention.js";
import type { PlanOptions, RepositorySnapshot } from "./types.js";

/** The tag decisions (absent without retention here) and the tags the manifests are planned with. */
export interface TagPlan {
  decisions?: TagDecisions;
  remaining: ReadonlyMap<string, Digest>;
}

/**
 * Applies the repository's retention rules, if any, to its readable tags. A repository with an
 * unreadable tag keeps every tag: keep_n would count among tags it cannot see.
 */
export function planTags(snapshot: RepositorySnapshot, options: PlanOptions): TagPlan {
  const rules = options.retention === false ? undefined : retentionFor(options.policy, snapshot.name);
  if (!rules || snapshot.unreadableTags.length > 0) return { remaining: snapshot.tags };
  const facts: TagFact[] = [...snapshot.tags].map(([tag, digest]) => ({
    tag,
    digest,
    // GitLab ranks a tag it cannot date as pushed now: never expired by age, counted as newest.
    pushedAt: snapshot.tagPushedAt?.get(tag) ?? options.now,
  }));
  const decisions = decideTags(facts, rules, { now: options.now, ...(options.protectedTags ? { protectedPatterns: options.protectedTags } : {}) });
  const remaining = new Map(snapshot.tags);
  for (const { tag } of decisions.deleted) remaining.delete(tag);
  return { decisions, remaining };
}

/** Digest -> the tags the decisions delete that point at it, for the candidates' `untaggedBy`. */
export function deletedTagsByDigest(decisions: TagDecisions | undefined): Map<Digest, string[]> {
  const byDigest = new Map<Digest, string[]>();
  for (const { tag, digest } of decisions?.deleted ?? []) {
    const tags = byDigest.get(digest);
    if (tags) tags.push(tag);
    else byDigest.set(digest, [tag]);
  }
  return byDigest;
}
