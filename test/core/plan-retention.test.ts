/** The plan with tag retention: tags decided first, manifests planned as if they were gone. */
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import { planRepository } from "../../src/core/plan.js";
import { gracePolicy, type RunPolicy } from "../../src/core/policy.js";
import type { RetentionRules } from "../../src/core/retention.js";
import type { RepositorySnapshot } from "../../src/core/types.js";
import { DAY, NOW, image, index, snapshot, unreadableTag } from "../helpers/plan-builders.js";

const policy = (rules: RetentionRules | undefined, minAgeMs = 0): RunPolicy => ({
  ...gracePolicy(minAgeMs),
  ...(rules ? { retention: { entries: [], defaults: rules } } : {}),
});

/** A snapshot whose tags were pushed `daysAgo` days before NOW. */
function dated(input: Parameters<typeof snapshot>[0], daysAgo: Record<string, number>): RepositorySnapshot {
  const snap = snapshot(input);
  snap.tagPushedAt = new Map(Object.entries(daysAgo).map(([tag, days]) => [tag, NOW - days * DAY]));
  return snap;
}

const decisions = (snap: RepositorySnapshot, rules: RetentionRules | undefined, extra: object = {}) => {
  const plan = planRepository(snap, { now: NOW, policy: policy(rules), ...extra });
  return {
    plan,
    deletedTags: plan.tagDecisions?.deleted.map((t) => t.tag) ?? [],
    keptTags: plan.tagDecisions?.kept.map((t) => [t.tag, t.reason.kind]) ?? [],
    candidates: new Set<Digest>(plan.candidates.map((c) => c.digest)),
  };
};

const a = image("a", { ageMs: 30 * DAY });
const b = image("b", { ageMs: 20 * DAY });
const c = image("c", { ageMs: 10 * DAY });

describe("planRepository with retention", () => {
  it("without a rule touches no tag and decides nothing about tags", () => {
    const { plan, candidates } = decisions(dated({ revisions: [a, b], tags: { v1: a, v2: b } }, { v1: 30, v2: 20 }), undefined);
    expect(plan.tagDecisions).toBeUndefined();
    expect(candidates.size).toBe(0);
  });

  it("deletes expired tags and makes the manifests they alone tagged candidates, saying which tags", () => {
    const snap = dated({ revisions: [a, b, c], tags: { "build-1": a, "build-2": b, "build-3": c, latest: c } }, { "build-1": 30, "build-2": 20, "build-3": 10, latest: 10 });
    const { plan, deletedTags, keptTags, candidates } = decisions(snap, { keepN: 1, nameRegexDelete: "build-.*" });
    expect(deletedTags).toEqual(["build-1", "build-2"]);
    expect(keptTags).toEqual([["build-3", "keep-n"], ["latest", "latest"]]);
    expect(candidates).toEqual(new Set([a.digest, b.digest]));
    expect(plan.candidates.find((x) => x.digest === a.digest)?.untaggedBy).toEqual(["build-1"]);
    // The cross-check compares the registry with the disk as it is: every tag.
    expect([...plan.tags.keys()].sort()).toEqual(["build-1", "build-2", "build-3", "latest"]);
  });

  it("keeps a manifest that still has another tag when one of its two tags expires", () => {
    const snap = dated({ revisions: [a], tags: { "old-name": a, stable: a } }, { "old-name": 30, stable: 1 });
    const { deletedTags, candidates, plan } = decisions(snap, { olderThanMs: 14 * DAY, nameRegexDelete: ".*" });
    expect(deletedTags).toEqual(["old-name"]);
    expect(candidates.size).toBe(0);
    expect(plan.kept).toEqual([{ digest: a.digest, reason: { kind: "tagged", tags: ["stable"] } }]);
  });

  it("expires a tagged index with its children, but keeps a child another kept index lists", () => {
    const shared = image("shared", { ageMs: 30 * DAY });
    const own = image("own", { ageMs: 30 * DAY });
    const oldIndex = index("old", [shared, own], { ageMs: 30 * DAY });
    const newIndex = index("new", [shared], { ageMs: 1 * DAY });
    const snap = dated({ revisions: [shared, own, oldIndex, newIndex], tags: { "v1": oldIndex, "v2": newIndex } }, { v1: 30, v2: 1 });
    const { deletedTags, candidates } = decisions(snap, { olderThanMs: 7 * DAY, nameRegexDelete: "v.*" });
    expect(deletedTags).toEqual(["v1"]);
    expect(candidates).toEqual(new Set([oldIndex.digest, own.digest]));
  });

  it("decides ties in push time the same whatever the order of the tags", () => {
    const tags = { "build-9": a, "build-10": b, "build-11": c };
    const pushed = { "build-9": 5, "build-10": 5, "build-11": 5 };
    const one = decisions(dated({ revisions: [a, b, c], tags }, pushed), { keepN: 1, nameRegexDelete: ".*" });
    const reversed = decisions(dated({ revisions: [c, b, a], tags: Object.fromEntries(Object.entries(tags).reverse()) }, pushed), { keepN: 1, nameRegexDelete: ".*" });
    expect(one.deletedTags).toEqual(["build-10", "build-9"]);
    expect(reversed.deletedTags).toEqual(one.deletedTags);
  });

  it("keeps protected tags, with the rule, and their manifests", () => {
    const snap = dated({ revisions: [a, b], tags: { "release-1": a, "dev-1": b } }, { "release-1": 30, "dev-1": 30 });
    const { deletedTags, keptTags, candidates } = decisions(snap, { nameRegexDelete: ".*" }, {
      protectedTags: [{ pattern: "^release-", source: "GitLab tag protection rule" }],
    });
    expect(deletedTags).toEqual(["dev-1"]);
    expect(keptTags).toEqual([["release-1", "protected"]]);
    expect(candidates).toEqual(new Set([b.digest]));
  });

  it("touches no tag in a repository with an unreadable tag", () => {
    const snap = dated({ revisions: [a], tags: { v1: a }, unreadableTags: [unreadableTag("broken")] }, { v1: 30 });
    const { plan, candidates } = decisions(snap, { nameRegexDelete: ".*" });
    expect(plan.tagDecisions).toBeUndefined();
    expect(candidates.size).toBe(0);
  });

  it("decides no tags in a re-plan (retention: false) and honours `since` there", () => {
    const snap = dated({ revisions: [a, image("pushed-during-run", { ageMs: 1_000 })], tags: { v1: a } }, { v1: 30 });
    const plan = planRepository(snap, { now: NOW, policy: policy({ nameRegexDelete: ".*" }), retention: false, since: NOW - 60_000 });
    expect(plan.tagDecisions).toBeUndefined();
    expect(plan.kept.map((k) => k.reason.kind).sort()).toEqual(["tagged", "too-young"]);
  });
});
