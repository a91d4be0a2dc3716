import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import { blobKey, markedBlobs, SpaceLedger } from "../../src/core/space.js";
import { fakeDigest, image, index } from "../helpers/plan-builders.js";

const repo = (name: string) => name as RepositoryName;
const keys = (...labels: string[]) => labels.map((label) => blobKey(fakeDigest(label)));

async function* blobs(entries: Array<[string, number]>): AsyncGenerator<{ digest: Digest; size: number }> {
  for (const [label, size] of entries) yield { digest: fakeDigest(label), size };
}

describe("markedBlobs", () => {
  it("marks the manifest itself, its children, config and layers, as garbage collection does", () => {
    const child = image("child");
    const top = index("top", [child]);
    expect(markedBlobs(top)).toEqual([top.digest, child.digest]);
    expect(markedBlobs(child)[0]).toBe(child.digest);
    expect(markedBlobs(child).length).toBe(1 + child.manifest!.blobs.length);
  });

  it("marks only the manifest's own blob when it is unreadable", () => {
    expect(markedBlobs({ digest: fakeDigest("x") })).toEqual([fakeDigest("x")]);
  });
});

describe("blobKey", () => {
  it("is the digest's first 52 bits, an exact integer", () => {
    const digest = `sha256:${"0123456789abcdef".repeat(4)}` as Digest;
    expect(blobKey(digest)).toBe(0x0123456789abc);
    expect(Number.isSafeInteger(blobKey(fakeDigest("x")))).toBe(true);
  });
});

describe("SpaceLedger", () => {
  it("counts a blob as freed only when no kept manifest anywhere references it", async () => {
    const ledger = new SpaceLedger();
    ledger.keep(keys("kept", "shared"));
    // a/app releases "gone" twice (two manifests sharing a layer): it counts once for a/app.
    ledger.release(repo("a/app"), 2, keys("gone", "shared", "only-gone", "gone"));
    ledger.release(repo("b/app"), 1, keys("gone"));
    const estimate = await ledger.estimate(blobs([["kept", 10], ["shared", 20], ["gone", 30], ["only-gone", 40], ["stray", 5]]));
    expect(estimate.before).toEqual({ blobs: 5, bytes: 105 });
    expect(estimate.freedByRun).toEqual({ blobs: 2, bytes: 70 });
    expect(estimate.alreadyUnreferenced).toEqual({ blobs: 1, bytes: 5 });
    expect(estimate.after).toEqual({ blobs: 2, bytes: 30 });
    // A blob freed by two repositories counts in both rows.
    expect(estimate.topRepositories).toEqual([
      { name: "a/app", bytes: 70, manifests: 2 },
      { name: "b/app", bytes: 30, manifests: 1 },
    ]);
  });

  it("gives the same estimate whatever order the blobs are listed in", async () => {
    const entries: Array<[string, number]> = ["kept", "shared", "gone", "only-gone", "stray", "a", "b"].map((label, i) => [label, 10 + i]);
    const inKeyOrder = [...entries].sort(([a], [b]) => blobKey(fakeDigest(a)) - blobKey(fakeDigest(b)));
    const estimates = [];
    for (const order of [inKeyOrder, [...inKeyOrder].reverse(), entries]) {
      const ledger = new SpaceLedger();
      ledger.keep(keys("kept", "shared"));
      ledger.release(repo("a/app"), 2, keys("gone", "shared", "only-gone", "a"));
      ledger.release(repo("b/app"), 1, keys("gone", "b"));
      estimates.push(await ledger.estimate(blobs(order)));
    }
    expect(estimates[0]!.topRepositories).toEqual([
      { name: "a/app", bytes: 12 + 13 + 15, manifests: 2 },
      { name: "b/app", bytes: 12 + 16, manifests: 1 },
    ]);
    expect(estimates[1]).toEqual(estimates[0]);
    expect(estimates[2]).toEqual(estimates[0]);
  });

  it("frees nothing when nothing is released", async () => {
    const ledger = new SpaceLedger();
    ledger.keep(keys("a"));
    const estimate = await ledger.estimate(blobs([["a", 1]]));
    expect(estimate.freedByRun).toEqual({ blobs: 0, bytes: 0 });
    expect(estimate.topRepositories).toEqual([]);
  });

  it("keeps its count over lists longer than one of its chunks (65,536 keys)", async () => {
    const ledger = new SpaceLedger();
    const labels = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    // Three repositories whose released keys straddle the chunk boundaries, and marks past one.
    const big = labels("big", 70_000);
    const small = labels("small", 100);
    const third = labels("third", 70_000);
    ledger.keep(keys(...labels("kept", 66_000)));
    ledger.release(repo("a/big"), 1, keys(...big));
    ledger.release(repo("a/small"), 1, keys(...small));
    ledger.release(repo("a/third"), 1, keys(...third.slice(1)));
    const onDisk: Array<[string, number]> = [...big, ...small, ...third, ...labels("kept", 66_000)].map((label) => [label, 2]);
    const estimate = await ledger.estimate(blobs(onDisk));
    expect(estimate.freedByRun).toEqual({ blobs: 140_099, bytes: 280_198 });
    expect(estimate.alreadyUnreferenced).toEqual({ blobs: 1, bytes: 2 });
    expect(estimate.topRepositories).toEqual([
      { name: "a/big", bytes: 140_000, manifests: 1 },
      { name: "a/third", bytes: 139_998, manifests: 1 },
      { name: "a/small", bytes: 200, manifests: 1 },
    ]);
  });
});
