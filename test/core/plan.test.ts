import { gracePolicy } from "../../src/core/policy.js";
import { markedBlobs } from "../../src/core/space.js";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import { parseManifest } from "../../src/core/manifest.js";
import { MediaType } from "../../src/core/media-types.js";
import { describeKeepReason } from "../../src/core/keep-reason.js";
import { planRepository } from "../../src/core/plan.js";
import type { KeepReason, KeepReasonKind, PlanOptions, RepositoryPlan, RepositorySnapshot, Revision } from "../../src/core/types.js";
import {
  DAY,
  HOUR,
  NOW,
  fakeDigest,
  image,
  index,
  referrer,
  schema1,
  snapshot,
  unreadable,
  unreadableTag,
} from "../helpers/plan-builders.js";

type Decision = KeepReasonKind | "candidate";

interface Case {
  name: string;
  snapshot: RepositorySnapshot;
  minAgeMs?: number;
  /** label -> decision, for every revision of the snapshot. */
  expected: Record<string, Decision>;
}

const options = (minAgeMs = 0): PlanOptions => ({ now: NOW, policy: gracePolicy(minAgeMs) });

/** Checks the invariant every plan must hold: each revision kept or a candidate, never both. */
function expectPartition(snap: RepositorySnapshot, plan: RepositoryPlan): void {
  const kept = plan.kept.map((k) => k.digest);
  const candidates = plan.candidates.map((c) => c.digest);
  const all = [...kept, ...candidates];
  expect(new Set(all).size).toBe(all.length);
  expect(new Set(all)).toEqual(new Set(snap.revisions.map((r) => r.digest)));
  expect(kept).toEqual([...kept].sort());
  expect(candidates).toEqual([...candidates].sort());
}

function decisionsOf(plan: RepositoryPlan): Map<Digest, Decision> {
  const decisions = new Map<Digest, Decision>();
  for (const { digest, reason } of plan.kept) decisions.set(digest, reason.kind);
  for (const { digest } of plan.candidates) decisions.set(digest, "candidate");
  return decisions;
}

function planOf(snap: RepositorySnapshot, minAgeMs = 0): RepositoryPlan {
  const plan = planRepository(snap, options(minAgeMs));
  expectPartition(snap, plan);
  return plan;
}

function reasonOf(plan: RepositoryPlan, target: Revision) {
  return plan.kept.find((k) => k.digest === target.digest)?.reason;
}

// Shared fixtures: each builder call is pure, so reusing a revision across cases is safe.
const amd64 = image("amd64");
const arm64 = image("arm64");
const multiArch = index("multi-arch", [amd64, arm64]);
const old = image("old");
const app = image("app");
const young = image("young", { ageMs: HOUR });

const cases: Case[] = [
  { name: "tagged manifest is kept", snapshot: snapshot({ revisions: [app], tags: { latest: app } }), expected: { app: "tagged" } },
  {
    name: "untagged unreferenced manifest is deleted",
    snapshot: snapshot({ revisions: [app, old], tags: { latest: app } }),
    expected: { app: "tagged", old: "candidate" },
  },
  {
    name: "digest under two tags is kept once",
    snapshot: snapshot({ revisions: [app], tags: { v1: app, latest: app } }),
    expected: { app: "tagged" },
  },
  {
    name: "tagged OCI index keeps its platform manifests",
    snapshot: snapshot({ revisions: [multiArch, amd64, arm64, old], tags: { latest: multiArch } }),
    expected: { "multi-arch": "tagged", amd64: "index-child", arm64: "index-child", old: "candidate" },
  },
  (() => {
    const a = image("d-amd64", { mediaType: MediaType.dockerManifest });
    const b = image("d-arm64", { mediaType: MediaType.dockerManifest });
    const list = index("d-list", [a, b], { mediaType: MediaType.dockerList });
    return {
      name: "tagged Docker manifest list keeps its platform manifests",
      snapshot: snapshot({ revisions: [list, a, b], tags: { latest: list } }),
      expected: { "d-list": "tagged", "d-amd64": "index-child", "d-arm64": "index-child" },
    };
  })(),
  (() => {
    const inner = index("inner", [amd64, arm64]);
    const outer = index("outer", [inner]);
    return {
      name: "nested index (index -> index -> manifests) is kept down to the leaves",
      snapshot: snapshot({ revisions: [outer, inner, amd64, arm64], tags: { latest: outer } }),
      expected: { outer: "tagged", inner: "index-child", amd64: "index-child", arm64: "index-child" },
    };
  })(),
  {
    name: "untagged old index and children only it uses are all deleted",
    snapshot: snapshot({ revisions: [multiArch, amd64, arm64, app], tags: { latest: app } }),
    expected: { "multi-arch": "candidate", amd64: "candidate", arm64: "candidate", app: "tagged" },
  },
  (() => {
    const shared = image("shared");
    const mine = image("mine");
    const oldIndex = index("old-index", [shared, mine]);
    const newIndex = index("new-index", [shared]);
    return {
      name: "child shared with a tagged index is kept; the rest of the old index goes",
      snapshot: snapshot({ revisions: [oldIndex, newIndex, shared, mine], tags: { latest: newIndex } }),
      expected: { "old-index": "candidate", "new-index": "tagged", shared: "index-child", mine: "candidate" },
    };
  })(),
  (() => {
    const tagged = index("tagged-index", [fakeDigest("gone-1"), fakeDigest("gone-2")]);
    const untagged = index("untagged-index", [fakeDigest("gone-3")]);
    return {
      name: "index whose children are missing from the repository is still judged",
      snapshot: snapshot({ revisions: [tagged, untagged], tags: { latest: tagged } }),
      expected: { "tagged-index": "tagged", "untagged-index": "candidate" },
    };
  })(),
  (() => {
    // buildx cache: an index whose entries are layer blobs, never revisions of the repository.
    const cache = index("cache", [fakeDigest("layer-1"), fakeDigest("layer-2")]);
    return {
      name: "buildx cache index listing layer blobs is kept without following blobs",
      snapshot: snapshot({ revisions: [cache, old], tags: { buildcache: cache } }),
      expected: { cache: "tagged", old: "candidate" },
    };
  })(),
  {
    name: "schema 1 manifests: tagged kept, untagged deleted",
    snapshot: snapshot({ revisions: [schema1("s1-tagged"), schema1("s1-old")], tags: { legacy: fakeDigest("s1-tagged") } }),
    expected: { "s1-tagged": "tagged", "s1-old": "candidate" },
  },
  (() => {
    const sig = referrer("sig", app);
    return {
      name: "referrer of a tagged manifest is kept",
      snapshot: snapshot({ revisions: [app, sig], tags: { latest: app } }),
      expected: { app: "tagged", sig: "referrer" },
    };
  })(),
  (() => {
    const sbom = referrer("sbom", app);
    const sbomSig = referrer("sbom-sig", sbom);
    return {
      name: "referrer of a referrer is kept",
      snapshot: snapshot({ revisions: [app, sbom, sbomSig], tags: { latest: app } }),
      expected: { app: "tagged", sbom: "referrer", "sbom-sig": "referrer" },
    };
  })(),
  (() => {
    const sig = referrer("old-sig", old);
    return {
      name: "referrer of an untagged candidate is deleted with it",
      snapshot: snapshot({ revisions: [app, old, sig], tags: { latest: app } }),
      expected: { app: "tagged", old: "candidate", "old-sig": "candidate" },
    };
  })(),
  (() => {
    const sig = referrer("amd64-sig", amd64);
    return {
      name: "referrer of a platform manifest of a kept index is kept",
      snapshot: snapshot({ revisions: [multiArch, amd64, arm64, sig], tags: { latest: multiArch } }),
      expected: { "multi-arch": "tagged", amd64: "index-child", arm64: "index-child", "amd64-sig": "referrer" },
    };
  })(),
  (() => {
    const pushing = index("pushing", [amd64, arm64], { ageMs: HOUR });
    const sig = referrer("pushing-sig", pushing);
    return {
      name: "too-young untagged index is kept, with its children and referrers",
      minAgeMs: DAY,
      snapshot: snapshot({ revisions: [pushing, amd64, arm64, sig, old], tags: {} }),
      expected: { pushing: "too-young", amd64: "index-child", arm64: "index-child", "pushing-sig": "referrer", old: "candidate" },
    };
  })(),
  {
    name: "minAge 0 disables the grace period",
    minAgeMs: 0,
    snapshot: snapshot({ revisions: [young, image("brand-new", { ageMs: 0 })] }),
    expected: { young: "candidate", "brand-new": "candidate" },
  },
  {
    name: "a manifest exactly minAge old is no longer young",
    minAgeMs: HOUR,
    snapshot: snapshot({ revisions: [young] }),
    expected: { young: "candidate" },
  },
  {
    name: "untagged unreadable manifest is kept as unreadable; the rest is judged",
    snapshot: snapshot({ revisions: [app, old, unreadable("broken")], tags: { latest: app } }),
    expected: { app: "tagged", old: "candidate", broken: "unreadable" },
  },
  {
    name: "tagged unreadable manifest makes the repository unsafe",
    snapshot: snapshot({ revisions: [unreadable("tagged-broken"), old, unreadable("other")], tags: { latest: fakeDigest("tagged-broken") } }),
    expected: { "tagged-broken": "tagged", old: "repository-unsafe", other: "unreadable" },
  },
  {
    name: "unreadable child of a kept index makes the repository unsafe",
    snapshot: snapshot({ revisions: [multiArch, unreadable("amd64"), arm64, old], tags: { latest: multiArch } }),
    expected: { "multi-arch": "tagged", amd64: "index-child", arm64: "index-child", old: "repository-unsafe" },
  },
  {
    name: "too-young unreadable manifest makes the repository unsafe",
    minAgeMs: DAY,
    snapshot: snapshot({ revisions: [unreadable("pushing", "truncated", { ageMs: HOUR }), old] }),
    expected: { pushing: "too-young", old: "repository-unsafe" },
  },
  {
    name: "unreadable tag link makes the repository unsafe",
    snapshot: snapshot({ revisions: [app, old], tags: { latest: app }, unreadableTags: [unreadableTag("broken")] }),
    expected: { app: "tagged", old: "repository-unsafe" },
  },
  {
    // The target may be a tagged index whose revision link alone is corrupt: its children must stay.
    name: "tag pointing at a missing revision makes the repository unsafe",
    snapshot: snapshot({ revisions: [old], tags: { ghost: fakeDigest("ghost") } }),
    expected: { old: "repository-unsafe" },
  },
  (() => {
    const selfish = index("selfish", [fakeDigest("selfish"), amd64]);
    return {
      name: "tagged index listing itself terminates",
      snapshot: snapshot({ revisions: [selfish, amd64], tags: { latest: selfish } }),
      expected: { selfish: "tagged", amd64: "index-child" },
    };
  })(),
  (() => {
    const ping = index("ping", [fakeDigest("pong")]);
    const pong = index("pong", [fakeDigest("ping")]);
    const lonelyPing = index("lonely-ping", [fakeDigest("lonely-pong")]);
    const lonelyPong = index("lonely-pong", [fakeDigest("lonely-ping")]);
    return {
      name: "two indexes listing each other: kept if one is tagged, deleted otherwise",
      snapshot: snapshot({ revisions: [ping, pong, lonelyPing, lonelyPong], tags: { latest: ping } }),
      expected: { ping: "tagged", pong: "index-child", "lonely-ping": "candidate", "lonely-pong": "candidate" },
    };
  })(),
  (() => {
    const loop = referrer("loop", fakeDigest("loop"));
    return {
      name: "referrer naming itself as subject terminates and is deleted",
      snapshot: snapshot({ revisions: [loop] }),
      expected: { loop: "candidate" },
    };
  })(),
  (() => {
    const youngChild = image("young-child", { ageMs: HOUR });
    const parent = index("parent", [youngChild, amd64]);
    return {
      name: "priority: tagged beats too-young, too-young beats index-child",
      minAgeMs: DAY,
      snapshot: snapshot({
        revisions: [parent, youngChild, amd64, image("young-tagged", { ageMs: HOUR })],
        tags: { latest: parent, edge: fakeDigest("young-tagged") },
      }),
      expected: { parent: "tagged", "young-child": "too-young", amd64: "index-child", "young-tagged": "tagged" },
    };
  })(),
  (() => {
    // An attestation manifest both listed by the index and pointing at it as subject.
    const att = referrer("att", fakeDigest("att-index"));
    const attIndex = index("att-index", [amd64, att]);
    return {
      name: "priority: index-child beats referrer",
      snapshot: snapshot({ revisions: [attIndex, amd64, att], tags: { latest: attIndex } }),
      expected: { "att-index": "tagged", amd64: "index-child", att: "index-child" },
    };
  })(),
  (() => {
    // Found first as a referrer of the tagged image, then listed by the young index.
    const sig = referrer("late-sig", app);
    const pushing = index("late-index", [sig], { ageMs: HOUR });
    return {
      name: "priority: index-child beats referrer, whichever is found first",
      minAgeMs: DAY,
      snapshot: snapshot({ revisions: [app, sig, pushing], tags: { latest: app } }),
      expected: { app: "tagged", "late-sig": "index-child", "late-index": "too-young" },
    };
  })(),
  { name: "empty repository", snapshot: snapshot({ revisions: [] }), expected: {} },
];

describe("planRepository", () => {
  it.each(cases)("$name", ({ snapshot: snap, minAgeMs, expected }) => {
    const plan = planOf(snap, minAgeMs);
    const want = new Map(Object.entries(expected).map(([label, decision]) => [fakeDigest(label), decision]));
    expect(decisionsOf(plan)).toEqual(want);
  });

  it("gives the same plan whatever the order of revisions and tags", () => {
    const sig = referrer("sig", amd64);
    const revisions = [multiArch, amd64, arm64, sig, old, app, unreadable("broken")];
    const forward = planOf(snapshot({ revisions, tags: { b: app, a: multiArch } }));
    const backward = planOf(snapshot({ revisions: [...revisions].reverse(), tags: { a: multiArch, b: app } }));
    expect(backward).toEqual(forward);
  });

  it("counts a digest listed twice once", () => {
    const plan = planRepository(snapshot({ revisions: [old, old] }), options());
    expect(plan.candidates.map((c) => c.digest)).toEqual([old.digest]);
    expect(plan.kept).toEqual([]);
  });
});

describe("planRepository: the reasons and data it records", () => {
  it("infers the media type of manifests that declare none, and follows their children", () => {
    const bytes = (json: object) => new TextEncoder().encode(JSON.stringify(json));
    const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: fakeDigest("l"), size: 9 };
    const bare = (label: string): Revision => {
      const parsed = parseManifest(bytes({ schemaVersion: 2, config: { ...layer, digest: fakeDigest(`${label}/c`) }, layers: [layer] }));
      if (!parsed.ok) throw new Error(parsed.problem);
      return { digest: fakeDigest(label), linkedAt: NOW - 30 * DAY, manifest: parsed.manifest };
    };
    const child = bare("bare-child");
    const loose = bare("bare-loose");
    const parsedIndex = parseManifest(bytes({ schemaVersion: 2, manifests: [{ digest: child.digest, size: 1 }] }));
    if (!parsedIndex.ok) throw new Error(parsedIndex.problem);
    const top: Revision = { digest: fakeDigest("bare-index"), linkedAt: NOW - 30 * DAY, manifest: parsedIndex.manifest };

    const plan = planOf(snapshot({ revisions: [top, child, loose], tags: { latest: top } }));
    expect(reasonOf(plan, child)).toEqual({ kind: "index-child", parent: top.digest });
    // blobs: what garbage collection frees with it: itself, its config and its layer.
    expect(plan.candidates).toEqual([{
      digest: loose.digest, mediaType: MediaType.ociManifest, ageMs: 30 * DAY,
      blobs: [loose.digest, fakeDigest("bare-loose/c"), fakeDigest("l")],
    }]);
  });

  it("records sorted tags, parents, subjects and ages", () => {
    const inner = index("inner", [amd64]);
    const outer = index("outer", [inner]);
    const sig = referrer("sig", amd64);
    const pushing = image("pushing", { ageMs: HOUR });
    const plan = planOf(snapshot({ revisions: [outer, inner, amd64, sig, pushing], tags: { v1: outer, latest: outer } }), DAY);
    expect(reasonOf(plan, outer)).toEqual({ kind: "tagged", tags: ["latest", "v1"] });
    expect(reasonOf(plan, inner)).toEqual({ kind: "index-child", parent: outer.digest });
    expect(reasonOf(plan, amd64)).toEqual({ kind: "index-child", parent: inner.digest });
    expect(reasonOf(plan, sig)).toEqual({ kind: "referrer", subject: amd64.digest });
    expect(reasonOf(plan, pushing)).toEqual({ kind: "too-young", ageMs: HOUR });
  });

  it("explains a manifest kept by both a tagged and a young index by the tagged one", () => {
    const shared = image("shared");
    const tagged = index("z-tagged", [shared]);
    const pushing = index("a-pushing", [shared], { ageMs: HOUR });
    const plan = planOf(snapshot({ revisions: [tagged, pushing, shared], tags: { latest: tagged } }), DAY);
    expect(reasonOf(plan, shared)).toEqual({ kind: "index-child", parent: tagged.digest });
  });

  it("never explains a cycle by itself", () => {
    const ping = index("ping", [fakeDigest("pong")]);
    const pong = index("pong", [ping]);
    const plan = planOf(snapshot({ revisions: [ping, pong], tags: { latest: ping } }));
    expect(reasonOf(plan, ping)).toEqual({ kind: "tagged", tags: ["latest"] });
    expect(reasonOf(plan, pong)).toEqual({ kind: "index-child", parent: ping.digest });
  });

  it("never explains a referrer by an index it keeps itself", () => {
    // A referrer index listing an index that lists it back: index-child would outrank referrer,
    // but "kept because of each other" explains nothing.
    const back = index("back", [fakeDigest("referring")]);
    const referring = index("referring", [back], { subject: app });
    const plan = planOf(snapshot({ revisions: [app, referring, back], tags: { latest: app } }));
    expect(reasonOf(plan, referring)).toEqual({ kind: "referrer", subject: app.digest });
    expect(reasonOf(plan, back)).toEqual({ kind: "index-child", parent: referring.digest });
  });

  it("describes candidates with media type and age", () => {
    const s1 = schema1("s1");
    const docker = image("docker", { mediaType: MediaType.dockerManifest, ageMs: 2 * DAY });
    const plan = planOf(snapshot({ revisions: [s1, docker] }), DAY);
    expect(plan.candidates).toEqual(
      [
        { digest: s1.digest, mediaType: MediaType.dockerSchema1Signed, ageMs: 30 * DAY, blobs: markedBlobs(s1) },
        { digest: docker.digest, mediaType: MediaType.dockerManifest, ageMs: 2 * DAY, blobs: markedBlobs(docker) },
      ].sort((a, b) => (a.digest < b.digest ? -1 : 1)),
    );
  });

  it("treats a link dated in the future as just pushed", () => {
    const future = image("future", { ageMs: -HOUR });
    expect(reasonOf(planOf(snapshot({ revisions: [future] }), DAY), future)).toEqual({ kind: "too-young", ageMs: 0 });
    expect(planOf(snapshot({ revisions: [future] })).candidates[0]?.ageMs).toBe(0);
  });

  it("copies the unreadable problem", () => {
    const broken = unreadable("broken", "blob data missing");
    expect(reasonOf(planOf(snapshot({ revisions: [broken] })), broken)).toEqual({ kind: "unreadable", problem: "blob data missing" });
  });

  it("names the unreadable tag, or the kept unreadable manifest, in repository-unsafe", () => {
    const byTag = planOf(snapshot({ revisions: [old], unreadableTags: [unreadableTag("z"), unreadableTag("a", "not a digest")] }));
    const tagProblem = (reasonOf(byTag, old) as { problem: string }).problem;
    expect(tagProblem).toMatch(/^tag "a" cannot be read \(not a digest\).*; and 1 more problem$/);

    const broken = unreadable("broken", "truncated JSON");
    const byManifest = planOf(snapshot({ revisions: [broken, old], tags: { latest: broken } }));
    const reason = reasonOf(byManifest, old);
    expect(reason?.kind).toBe("repository-unsafe");
    expect((reason as { problem: string }).problem).toContain(`manifest ${broken.digest} is kept (tagged latest)`);
    expect((reason as { problem: string }).problem).toContain("truncated JSON");
  });

  it("copies storage warnings and warns about tags pointing at missing revisions", () => {
    const warning = { path: "group/project/app/_manifests/revisions/sha256/xyz/link", message: "empty link file" };
    const ghost = fakeDigest("ghost");
    const snap = snapshot({ revisions: [old], tags: { ghost }, warnings: [warning] });
    const plan = planOf(snap);
    expect(plan.warnings).toEqual([
      warning,
      { path: "group/project/app/_manifests/tags/ghost", message: expect.stringContaining(ghost) },
    ]);
    expect(snap.warnings).toEqual([warning]); // the snapshot is not modified
    expect(plan.tags).toEqual(snap.tags);
    expect(plan.tags).not.toBe(snap.tags);
    expect(plan.name).toBe(snap.name);
  });
});

describe("planRepository at scale", () => {
  // Correctness at scale only: how fast it is belongs to the benchmark (bench/), not to a timed test.
  it("plans 100,000 revisions with a 20,000-long referrer chain correctly", () => {
    const revisions: Revision[] = [];
    const tags: Record<string, Revision> = {};
    for (let i = 0; i < 20_000; i++) {
      const a = image(`amd64-${i}`);
      const b = image(`arm64-${i}`);
      const top = index(`index-${i}`, [a, b]);
      revisions.push(a, b, top, image(`stale-${i}`));
      if (i % 2 === 0) tags[`v${i}`] = top;
    }
    let subject: Revision = tags.v0!;
    for (let i = 0; i < 20_000; i++) {
      subject = referrer(`chain-${i}`, subject);
      revisions.push(subject);
    }
    const plan = planOf(snapshot({ revisions, tags }));
    expect(plan.kept.length).toBe(3 * 10_000 + 20_000);
    expect(plan.candidates.length).toBe(3 * 10_000 + 20_000);
  });
});

describe("describeKeepReason", () => {
  const digest = fakeDigest("x");
  const short = digest.slice(0, 19);
  it.each([
    [{ kind: "tagged", tags: ["latest", "v1"] }, "tagged latest, v1"],
    [{ kind: "index-child", parent: digest }, `referenced by index ${short}`],
    [{ kind: "referrer", subject: digest }, `referrer of ${short}`],
    [{ kind: "too-young", ageMs: 3 * HOUR + 12 * 60_000 }, "pushed 3h 12m ago, younger than the grace period"],
    [{ kind: "unreadable", problem: "the manifest is not valid JSON" }, "manifest unreadable: the manifest is not valid JSON"],
    [{ kind: "repository-unsafe", problem: 'tag "x" cannot be read' }, 'repository not safe to judge: tag "x" cannot be read'],
  ] satisfies Array<[KeepReason, string]>)("%o -> %s", (reason, text) => {
    expect(describeKeepReason(reason)).toBe(text);
  });
});
