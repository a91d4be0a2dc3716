/**
 * The usage report on a hand-computed registry: two projects in group acme (acme/web with two
 * repositories sharing a layer, acme/api), other/tool in group other sharing a layer with
 * acme/api, an orphan, untagged-only bytes, a manifest kept by --min-age, a blob no manifest
 * references and a referenced blob missing from the store. Every expected number below is
 * summed by hand from the sizes in SIZES.
 */
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import { MediaType } from "../../src/core/media-types.js";
import { planRepository } from "../../src/core/plan.js";
import { gracePolicy } from "../../src/core/policy.js";
import type { Revision } from "../../src/core/types.js";
import { repositoryFacts, UsageLedger, type UsageReport, type UsageRow } from "../../src/core/usage.js";
import { DAY, fakeDigest, HOUR, NOW, repoName, snapshot } from "../helpers/plan-builders.js";

/** Blob sizes in the store. Manifests W0 W1 K1 A1 AY T0 T1 G0 G1, layers in lowercase. */
const SIZES: Record<string, number> = {
  W1: 1, W0: 2, K1: 4, A1: 8, AY: 16, T1: 32, T0: 64, G0: 128, G1: 256,
  base: 1000, cross: 20000,
  w1: 100, w0: 200, k1: 400, a1: 800, ay: 1600, t1: 3200, t0: 6400, g0: 12800, g1: 25600,
  unreferenced: 51200,
};

const d = (label: string): Digest => fakeDigest(label);

/** A manifest revision named `label` (its blob in the store is SIZES[label]) referencing `layers`. */
function manifest(label: string, layers: string[], ageMs = 30 * DAY): Revision {
  return {
    digest: d(label),
    linkedAt: NOW - ageMs,
    manifestSize: SIZES[label],
    manifest: { kind: "image", mediaType: MediaType.ociManifest, children: [], blobs: layers.map((layer) => ({ digest: d(layer), size: 1 })) },
  };
}

async function* blobStore(): AsyncGenerator<{ digest: Digest; size: number }> {
  // In digest order, as the storage lists them.
  const sorted = Object.entries(SIZES).map(([label, size]) => ({ digest: d(label), size })).sort((a, b) => (a.digest < b.digest ? -1 : 1));
  yield* sorted;
}

/** Plans each repository with the default 24 h grace period and adds it, with its project when asked. */
async function buildReport(projects: boolean): Promise<UsageReport> {
  const ledger = await UsageLedger.fromBlobStore(blobStore());
  const W1 = manifest("W1", ["base", "w1", "missing-from-the-store"]);
  const K1 = manifest("K1", ["base", "k1"]);
  const A1 = manifest("A1", ["cross", "a1"]);
  const T1 = manifest("T1", ["cross", "t1"]);
  const G1 = manifest("G1", ["g1"]);
  const repositories: Array<{ name: string; project: string | null; revisions: Revision[]; tags: Record<string, Revision> }> = [
    { name: "acme/web", project: "acme/web", revisions: [W1, manifest("W0", ["base", "w0"])], tags: { latest: W1 } },
    { name: "acme/web/worker", project: "acme/web", revisions: [K1], tags: { main: K1 } },
    // AY is untagged but an hour old: kept by the grace period.
    { name: "acme/api", project: "acme/api", revisions: [A1, manifest("AY", ["ay"], HOUR)], tags: { v1: A1 } },
    // T0 is untagged and old, and shares a1 with acme/api's tagged A1.
    { name: "other/tool", project: "other/tool", revisions: [T1, manifest("T0", ["t0", "a1"])], tags: { latest: T1 } },
    { name: "acme/gone/app", project: null, revisions: [G1, manifest("G0", ["g0"])], tags: { latest: G1 } },
  ];
  for (const repository of repositories) {
    const snap = snapshot({ name: repository.name, revisions: repository.revisions, tags: repository.tags });
    const plan = planRepository(snap, { now: NOW, policy: gracePolicy(DAY) });
    ledger.add(repositoryFacts(snap, plan, projects ? repository.project : undefined));
  }
  return ledger.report();
}

function bytesOf(row: UsageRow | undefined): number[] {
  return row ? [row.bytes, row.keptBytes, row.freeableBytes, row.sharedBytes] : [];
}

function byName(rows: readonly UsageRow[]): Record<string, number[]> {
  return Object.fromEntries(rows.map((row) => [row.name, bytesOf(row)]));
}

describe("usage report", () => {
  it("per repository: size, kept, freeable, shared", async () => {
    const report = await buildReport(false);
    expect(byName(report.repositories)).toEqual({
      // W1 + base + w1 + W0 + w0; kept W1 + base + w1; freeable W0 + w0; shared base (worker).
      "acme/web": [1303, 1101, 202, 1000],
      "acme/web/worker": [1404, 1404, 0, 1000],
      // AY and ay are kept by --min-age; cross and a1 are also other/tool's.
      "acme/api": [22424, 22424, 0, 20800],
      // T0 + t0 are freeable; a1 is held by the untagged T0 here but kept in acme/api: neither kept nor freeable.
      "other/tool": [30496, 23232, 6464, 20800],
      "acme/gone/app": [38784, 25856, 12928, 0],
    });
    expect(report.repositories.map((row) => row.name)).toEqual(["acme/gone/app", "other/tool", "acme/web", "acme/api", "acme/web/worker"]);
    const web = report.repositories.find((row) => row.name === "acme/web")!;
    expect([web.tags, web.manifests, web.candidates, web.group]).toEqual([1, 2, 1, "acme"]);
    expect(report.repositories.find((row) => row.name === "acme/api")!.candidates).toBe(0);
  });

  it("per top-level group, a layer shared by two repositories counts once; one shared across groups is shared", async () => {
    const report = await buildReport(false);
    expect(byName(report.groups)).toEqual({
      // acme/web (1707 as a project, base once) + acme/api + the orphan.
      acme: [62915, 49785, 13130, 20800],
      other: [30496, 23232, 6464, 20800],
    });
    expect(report.groups.map((row) => [row.name, row.repositories, row.tags, row.manifests, row.candidates]))
      .toEqual([["acme", 4, 4, 7, 2], ["other", 1, 1, 2, 1]]);
    expect(report.projects).toBeUndefined();
    expect(report.withoutProject).toBeUndefined();
  });

  it("per project with GitLab: the shared layer counts once and is not shared outside the project", async () => {
    const report = await buildReport(true);
    expect(byName(report.projects!)).toEqual({
      "other/tool": [30496, 23232, 6464, 20800],
      "acme/web": [1707, 1505, 202, 0],
      "acme/api": [22424, 22424, 0, 20800],
    });
    expect(report.projects!.map((row) => row.name)).toEqual(["other/tool", "acme/web", "acme/api"]);
    expect(report.projects!.find((row) => row.name === "acme/web")!.repositories).toBe(2);
    expect(bytesOf(report.withoutProject)).toEqual([38784, 25856, 12928, 0]);
    expect(report.repositories.find((row) => row.name === "acme/gone/app")!.project).toBeNull();
    expect(report.repositories.find((row) => row.name === "acme/web/worker")!.project).toBe("acme/web");
  });

  it("the total counts every blob once, and the blob store what no manifest references", async () => {
    const report = await buildReport(false);
    // Every blob but `unreferenced`; kept + freeable is all of it, since nothing is only held elsewhere in the total.
    expect(bytesOf(report.total)).toEqual([72611, 53017, 19594, 0]);
    expect([report.total.repositories, report.total.tags, report.total.manifests, report.total.candidates]).toEqual([5, 5, 9, 3]);
    expect(report.blobStore).toEqual({ blobs: 21, bytes: 123811, unreferencedBlobs: 1, unreferencedBytes: 51200 });
  });

  it("with --min-age 0 the young untagged manifest becomes freeable", async () => {
    const ledger = await UsageLedger.fromBlobStore(blobStore());
    const A1 = manifest("A1", ["cross", "a1"]);
    const snap = snapshot({ name: "acme/api", revisions: [A1, manifest("AY", ["ay"], HOUR)], tags: { v1: A1 } });
    ledger.add(repositoryFacts(snap, planRepository(snap, { now: NOW, policy: gracePolicy(0) })));
    expect(bytesOf(ledger.report().repositories[0])).toEqual([22424, 20808, 1616, 0]);
  });

  it("sorts a blob store listed out of digest order, and counts a blob several manifests list once", async () => {
    async function* reversed(): AsyncGenerator<{ digest: Digest; size: number }> {
      const all: Array<{ digest: Digest; size: number }> = [];
      for await (const blob of blobStore()) all.push(blob);
      yield* all.reverse();
    }
    const ledger = await UsageLedger.fromBlobStore(reversed());
    ledger.add({
      name: repoName("acme/web"), tags: 0,
      manifests: [{ blobs: [d("W0"), d("w0")], kept: false }, { blobs: [d("W0"), d("w0"), d("w0")], kept: false }],
    });
    const [row] = ledger.report().repositories;
    expect(bytesOf(row)).toEqual([202, 0, 202, 0]);
  });
});
