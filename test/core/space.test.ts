import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import { markedBlobs, SpaceLedger } from "../../src/core/space.js";
import { fakeDigest, image, index } from "../helpers/plan-builders.js";

const repo = (name: string) => name as RepositoryName;

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

describe("SpaceLedger", () => {
  it("counts a blob as freed only when no kept manifest anywhere references it", async () => {
    const ledger = new SpaceLedger();
    ledger.keep([fakeDigest("kept"), fakeDigest("shared")]);
    ledger.release(repo("a/app"), [fakeDigest("gone"), fakeDigest("shared"), fakeDigest("only-gone")]);
    ledger.release(repo("b/app"), [fakeDigest("gone")]);
    const estimate = await ledger.estimate(blobs([["kept", 10], ["shared", 20], ["gone", 30], ["only-gone", 40], ["stray", 5]]));
    expect(estimate.before).toEqual({ blobs: 5, bytes: 105 });
    expect(estimate.freedByRun).toEqual({ blobs: 2, bytes: 70 });
    expect(estimate.alreadyUnreferenced).toEqual({ blobs: 1, bytes: 5 });
    expect(estimate.after).toEqual({ blobs: 2, bytes: 30 });
    // A blob freed by two repositories counts in both rows.
    expect(estimate.topRepositories).toEqual([
      { name: "a/app", bytes: 70, manifests: 1 },
      { name: "b/app", bytes: 30, manifests: 1 },
    ]);
  });

  it("frees nothing when nothing is released", async () => {
    const ledger = new SpaceLedger();
    ledger.keep([fakeDigest("a")]);
    const estimate = await ledger.estimate(blobs([["a", 1]]));
    expect(estimate.freedByRun).toEqual({ blobs: 0, bytes: 0 });
    expect(estimate.topRepositories).toEqual([]);
  });
});
