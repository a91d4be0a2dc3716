import { describe, expect, it } from "vitest";
import { gracePolicy } from "../../src/core/policy.js";
import { describeRepair, planRepairs, type DeletedManifest } from "../../src/core/repairs.js";
import type { Revision } from "../../src/core/types.js";
import { vanishedTags } from "../../src/execute/vanished-tags.js";
import type { PushSighting } from "../../src/storage/push-watch.js";
import { DAY, HOUR, NOW, fakeDigest, image, index, referrer, snapshot } from "../helpers/plan-builders.js";

const SINCE = NOW - HOUR;
const policy = gracePolicy(DAY);

function gone(revision: Revision, pushedAgainAt?: number): DeletedManifest {
  return { digest: revision.digest, manifest: revision.manifest!, ...(pushedAgainAt === undefined ? {} : { pushedAgainAt }) };
}

function repairs(input: { revisions: Revision[]; tags?: Record<string, Revision>; deleted: DeletedManifest[]; vanished?: Record<string, Revision> }) {
  const vanished = new Map(Object.entries(input.vanished ?? {}).map(([tag, revision]) => [tag, revision.digest] as const));
  return planRepairs({
    snapshot: snapshot({ revisions: input.revisions, ...(input.tags ? { tags: input.tags } : {}) }),
    deleted: input.deleted, vanishedTags: vanished, now: NOW, policy, since: SINCE,
  });
}

describe("planRepairs", () => {
  it("puts nothing back when no push needs what was deleted", () => {
    const kept = image("kept");
    expect(repairs({ revisions: [kept], tags: { v1: kept }, deleted: [gone(image("old-1")), gone(image("old-2"))] })).toEqual([]);
  });

  it("puts a manifest back by tag when a tag now points at it (the push landed after the DELETE's untag)", () => {
    const old = image("old");
    expect(repairs({ revisions: [], tags: { v2: old }, deleted: [gone(old)] })).toEqual([
      { digest: old.digest, tags: ["v2"], reason: { kind: "tagged", tags: ["v2"] } },
    ]);
  });

  it("puts a manifest back by the tag the watch saw vanish with it", () => {
    const old = image("old");
    expect(repairs({ revisions: [], deleted: [gone(old), gone(image("other"))], vanished: { v2: old } })).toEqual([
      { digest: old.digest, tags: ["v2"], reason: { kind: "tagged", tags: ["v2"] } },
    ]);
  });

  it("does not put a vanished tag back where the tag exists again (pushed elsewhere since)", () => {
    const old = image("old");
    const now = image("now", { ageMs: 1000 });
    expect(repairs({ revisions: [now], tags: { v2: now }, deleted: [gone(old)], vanished: { v2: old } })).toEqual([]);
  });

  it("puts back the children of an index pushed during the run, before any index", () => {
    const amd = image("amd64");
    const arm = image("arm64");
    const fresh = index("fresh", [amd, arm], { ageMs: 1000 });
    const result = repairs({ revisions: [fresh], tags: { multi: fresh }, deleted: [gone(amd), gone(arm), gone(image("unrelated"))] });
    expect(result.map((r) => r.digest).sort()).toEqual([amd.digest, arm.digest].sort());
    expect(result.every((r) => r.tags.length === 0 && r.reason.kind === "listed")).toBe(true);
  });

  it("restores a re-tagged index and its deleted children, children first", () => {
    const amd = image("amd64");
    const old = index("old-index", [amd]);
    const result = repairs({ revisions: [], deleted: [gone(old), gone(amd)], vanished: { latest: old } });
    expect(result).toEqual([
      { digest: amd.digest, tags: [], reason: { kind: "listed", index: old.digest } },
      { digest: old.digest, tags: ["latest"], reason: { kind: "tagged", tags: ["latest"] } },
    ]);
  });

  it("restores the signature of an image that was tagged again", () => {
    const app = image("app");
    const signature = referrer("sig", app);
    const result = repairs({ revisions: [], tags: { v3: app }, deleted: [gone(app), gone(signature)] });
    expect(result.map((r) => r.reason.kind).sort()).toEqual(["refers", "tagged"]);
  });

  it("restores, untagged, a manifest the watch saw pushed again (a child pushed before its index)", () => {
    const child = image("child");
    const result = repairs({ revisions: [], deleted: [gone(child, NOW - 1000)] });
    expect(result).toEqual([{ digest: child.digest, tags: [], reason: { kind: "pushed-again" } }]);
  });

  it("leaves alone what is linked again (the push re-created it)", () => {
    const old = image("old", { ageMs: 1000 });
    expect(repairs({ revisions: [old], tags: { v2: old }, deleted: [gone(old)] })).toEqual([]);
  });

  it("says why in the report's words", () => {
    expect(describeRepair({ kind: "tagged", tags: ["v2"] })).toBe("tag v2 was pushed onto it during the cleanup");
    expect(describeRepair({ kind: "pushed-again" })).toBe("it was pushed again during the cleanup");
  });
});

describe("vanishedTags", () => {
  const d = fakeDigest("deleted");
  const other = fakeDigest("other");
  const tag = (seq: number, name: string, digest?: string): PushSighting =>
    ({ kind: "tag", seq, at: seq, tag: name, ...(digest ? { digest } : {}) }) as PushSighting;
  const written = (seq: number, digest: string): PushSighting => ({ kind: "revision-written", seq, at: seq, digest }) as PushSighting;
  const removed = (seq: number, digest: string): PushSighting => ({ kind: "revision-renamed", seq, at: seq, digest }) as PushSighting;

  it("takes the digest the tag's link held when read", () => {
    const result = vanishedTags([tag(1, "v2", d)], new Map(), new Set([d]));
    expect(result).toEqual({ tags: new Map([["v2", d]]), unknown: [] });
  });

  it("pairs an unread tag with the deleted manifest pushed before it appeared and removed before it went", () => {
    const sightings = [written(1, d), tag(2, "v2"), removed(3, d), tag(4, "v2"), removed(5, other)];
    expect(vanishedTags(sightings, new Map(), new Set([d, other])).tags).toEqual(new Map([["v2", d]]));
  });

  it("leaves an unread tag unknown when two pushed manifests could have taken it", () => {
    const sightings = [written(1, other), written(2, d), tag(3, "v2"), removed(4, other), removed(5, d), tag(6, "v2")];
    expect(vanishedTags(sightings, new Map(), new Set([d, other]))).toEqual({ tags: new Map(), unknown: ["v2"] });
  });

  it("pairs a tag that was on disk before and went without being read", () => {
    const sightings = [written(1, d), removed(2, d), tag(3, "old")];
    expect(vanishedTags(sightings, new Map(), new Set([d]), new Set(["old"])).tags).toEqual(new Map([["old", d]]));
  });

  it("never takes a tag seen appearing only, and not read yet, for one that vanished (it may be mid-push)", () => {
    const sightings = [written(1, d), tag(2, "new")];
    expect(vanishedTags(sightings, new Map(), new Set([d]))).toEqual({ tags: new Map(), unknown: [] });
  });

  it("ignores tags that exist now and tags on manifests this run did not delete", () => {
    const sightings = [tag(1, "here", d), tag(2, "elsewhere", other)];
    expect(vanishedTags(sightings, new Map([["here", d]]), new Set([d]))).toEqual({ tags: new Map(), unknown: [] });
  });

  it("says which tags it cannot place", () => {
    expect(vanishedTags([tag(1, "v9"), tag(2, "v9")], new Map(), new Set([d])).unknown).toEqual(["v9"]);
  });
});

describe("planRepairs, when the deleted manifest is linked again", () => {
  it("puts back the tag its DELETE took, though another push linked the manifest again since", () => {
    const old = image("old", { ageMs: 1000 });
    const result = repairs({ revisions: [old], tags: { later: old }, deleted: [gone(old)], vanished: { v2: old } });
    expect(result).toEqual([{ digest: old.digest, tags: ["v2"], reason: { kind: "tagged", tags: ["v2"] } }]);
  });

  it("puts back the tag when the push's own link landed after the DELETE removed the link", () => {
    const old = image("old", { ageMs: 10 });
    expect(repairs({ revisions: [old], deleted: [gone(old)], vanished: { v2: old } })).toEqual([
      { digest: old.digest, tags: ["v2"], reason: { kind: "tagged", tags: ["v2"] } },
    ]);
  });
});
