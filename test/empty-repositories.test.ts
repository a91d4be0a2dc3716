/**
 * --delete-empty-repositories, the decision: which repositories a run leaves with no tag and no
 * manifest, from its plans and outcomes alone. Every case where a repository must never be
 * deleted in GitLab is here: a tag left, a kept manifest (young, unreadable, in a kept index),
 * anything the run could not judge (warnings, unreadable tags, skips, failed deletes, re-checks,
 * protected tags) and a run cut short.
 */
import { describe, expect, it } from "vitest";
import { EmptyRepositoryTracker, plannedEmpty } from "../src/empty-repositories.js";
import { planRepository } from "../src/core/plan.js";
import { gracePolicy, type RunPolicy } from "../src/core/policy.js";
import type { OutcomeKind, SkipReason } from "../src/core/report.js";
import type { RepositoryPlan, RepositorySnapshot } from "../src/core/types.js";
import { DAY, HOUR, NOW, image, index, repoName, snapshot, unreadable, unreadableTag } from "./helpers/plan-builders.js";

const NAME = repoName("group/project/old");
const grace = gracePolicy(DAY);
/** `--keep-n 0`: every tag but `latest` expires. */
const keepNone: RunPolicy = { ...grace, retention: { entries: [], defaults: { nameRegexDelete: ".*", keepN: 0 } } };

function plan(snap: RepositorySnapshot, policy: RunPolicy = grace): RepositoryPlan {
  return planRepository(snap, { now: NOW, policy });
}

/** A snapshot whose tags were pushed 30 days ago, so retention may date them. */
function withTagDates(snap: RepositorySnapshot): RepositorySnapshot {
  return { ...snap, tagPushedAt: new Map([...snap.tags.keys()].map((tag) => [tag, NOW - 30 * DAY])) };
}

/** Feeds a plan to a tracker, then one outcome per candidate (and per deleted tag) of the given kind. */
function run(p: RepositoryPlan, kinds: { manifests?: OutcomeKind; tags?: OutcomeKind; skip?: SkipReason } = {}): EmptyRepositoryTracker {
  const tracker = new EmptyRepositoryTracker();
  tracker.planned(p);
  if (kinds.skip) tracker.skipped({ name: p.name, reason: kinds.skip, detail: "", candidates: p.candidates.length, bytes: 0 });
  for (const tag of p.tagDecisions?.deleted ?? []) {
    tracker.tagOutcome({ repository: p.name, tag: tag.tag, digest: tag.digest, pushedAt: tag.pushedAt, kind: kinds.tags ?? "deleted" });
  }
  for (const candidate of p.candidates) tracker.outcome({ repository: p.name, digest: candidate.digest, kind: kinds.manifests ?? "deleted" });
  return tracker;
}

describe("a repository the run empties", () => {
  it("is one whose untagged manifests were all deleted (or already gone)", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("a"), image("b")] }));
    expect(plannedEmpty(p)).toBe(true);
    expect(run(p).emptied()).toEqual([NAME]);
    expect(run(p, { manifests: "already-gone" }).emptied()).toEqual([NAME]);
  });

  it("is one a dry run would empty", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("a")] }));
    expect(run(p, { manifests: "would-delete" }).emptied()).toEqual([NAME]);
  });

  it("is one whose every tag retention deleted, and then the manifests they left untagged", () => {
    const a = image("a");
    const p = plan(withTagDates(snapshot({ name: NAME, revisions: [a, image("b")], tags: { "v1": a, "v2": a } })), keepNone);
    expect(p.candidates).toHaveLength(2);
    expect(plannedEmpty(p)).toBe(true);
    expect(run(p).emptied()).toEqual([NAME]);
    expect(run(p, { manifests: "would-delete", tags: "would-delete" }).emptied()).toEqual([NAME]);
  });

  it("is one that was empty already (a run without the flag deleted its manifests before)", () => {
    expect(run(plan(snapshot({ name: NAME, revisions: [] }))).emptied()).toEqual([NAME]);
  });

  it("lists several in name order", () => {
    const tracker = new EmptyRepositoryTracker();
    for (const name of ["group/b", "group/a"]) tracker.planned(plan(snapshot({ name, revisions: [] })));
    expect(tracker.emptied()).toEqual(["group/a", "group/b"]);
  });
});

describe("never a repository", () => {
  it("with a tag left (no retention rule, or one that keeps it)", () => {
    const a = image("a");
    expect(plannedEmpty(plan(snapshot({ name: NAME, revisions: [a, image("b")], tags: { v1: a } })))).toBe(false);
    // `latest` is never expired by retention: it stays, and so does its manifest.
    const kept = plan(withTagDates(snapshot({ name: NAME, revisions: [a], tags: { latest: a } })), keepNone);
    expect(plannedEmpty(kept)).toBe(false);
    expect(run(kept).emptied()).toEqual([]);
  });

  it("with a manifest younger than the grace period", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("old"), image("young", { ageMs: HOUR })] }));
    expect(p.kept.map((k) => k.reason.kind)).toEqual(["too-young"]);
    expect(plannedEmpty(p)).toBe(false);
    expect(run(p).emptied()).toEqual([]);
  });

  it("with an unreadable manifest", () => {
    expect(plannedEmpty(plan(snapshot({ name: NAME, revisions: [image("a"), unreadable("broken")] })))).toBe(false);
  });

  it("with an unreadable tag, even without any manifest", () => {
    const snap = snapshot({
      name: NAME, revisions: [], unreadableTags: [unreadableTag("v1")],
      warnings: [{ path: "group/project/old/_manifests/tags/v1/current/link", message: "Tag v1 is unreadable" }],
    });
    expect(plannedEmpty(plan(snap))).toBe(false);
  });

  it("with a tag whose manifest is gone (a broken tag: a warning)", () => {
    const ghost = image("ghost");
    expect(plannedEmpty(plan(snapshot({ name: NAME, revisions: [image("a")], tags: { v1: ghost } })))).toBe(false);
  });

  it("with a platform manifest a young index keeps", () => {
    const child = image("amd64");
    const p = plan(snapshot({ name: NAME, revisions: [child, index("idx", [child], { ageMs: HOUR })] }));
    expect(plannedEmpty(p)).toBe(false);
  });

  it("the run skipped (no permission, orphan, tags differ, cross-check failed, an error)", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("a")] }));
    for (const skip of ["no-permission", "orphan", "tags-mismatch", "cross-check-failed", "error"] as const) {
      expect(run(p, { skip }).emptied(), skip).toEqual([]);
    }
  });

  it("where a manifest delete failed, was refused as protected, or a re-check kept it", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("a")] }));
    for (const manifests of ["failed", "protected", "kept-on-recheck"] as const) {
      expect(run(p, { manifests }).emptied(), manifests).toEqual([]);
    }
  });

  it("where a tag delete failed, or the tag turned out protected or pushed again", () => {
    const a = image("a");
    const p = plan(withTagDates(snapshot({ name: NAME, revisions: [a], tags: { v1: a } })), keepNone);
    for (const tags of ["failed", "protected", "kept-on-recheck"] as const) {
      expect(run(p, { tags }).emptied(), tags).toEqual([]);
    }
  });

  it("the run did not finish (a candidate without an outcome: interrupted)", () => {
    const p = plan(snapshot({ name: NAME, revisions: [image("a"), image("b")] }));
    const tracker = new EmptyRepositoryTracker();
    tracker.planned(p);
    tracker.outcome({ repository: NAME, digest: p.candidates[0]!.digest, kind: "deleted" });
    expect(tracker.emptied()).toEqual([]);
  });

  it("the run never planned (left out by --repository / --exclude-repository)", () => {
    const tracker = new EmptyRepositoryTracker();
    tracker.outcome({ repository: NAME, digest: image("a").digest, kind: "deleted" });
    expect(tracker.emptied()).toEqual([]);
  });
});

describe("the tracker's events", () => {
  it("pass every event on, and the confirmation counts the repositories it would delete", async () => {
    const seen: string[] = [];
    const tracker = new EmptyRepositoryTracker();
    const events = tracker.listen({
      planned: (p) => void seen.push(`planned ${p.name}`),
      skipped: (s) => void seen.push(`skipped ${s.name}`),
      confirm: async (totals) => (seen.push(`confirm ${JSON.stringify(totals)}`), true),
    });
    events.planned!(plan(snapshot({ name: NAME, revisions: [] })));
    events.skipped!({ name: repoName("group/other"), reason: "orphan", detail: "", candidates: 1, bytes: 0 });
    expect(tracker.asked).toBe(false);
    await events.confirm!({ repositories: 1, candidates: 1, tags: 0 });
    expect(tracker.asked).toBe(true);
    expect(seen).toEqual([
      "planned group/project/old", "skipped group/other",
      `confirm ${JSON.stringify({ repositories: 1, candidates: 1, tags: 0, emptyRepositories: 1 })}`,
    ]);
  });

  it("adds no confirmation where the run has none (--yes, cron)", () => {
    expect(new EmptyRepositoryTracker().listen({}).confirm).toBeUndefined();
  });
});
