import { describe, expect, it } from "vitest";
import { CandidateBlobs } from "../../src/core/candidate-blobs.js";
import { blobKey } from "../../src/core/space.js";
import { fakeDigest } from "../helpers/plan-builders.js";

const digests = (...labels: string[]) => labels.map(fakeDigest);
const sortedKeys = (...labels: string[]) => [...new Set(labels.map((label) => blobKey(fakeDigest(label))))].sort((a, b) => a - b);

describe("CandidateBlobs", () => {
  const blobs = CandidateBlobs.from([
    digests("m1", "base", "app-1"),
    digests("m2", "base", "app-2"),
    digests("m3", "base", "app-2", "base"),
  ]);

  it("gives the distinct keys of the chosen candidates, sorted", () => {
    expect(blobs.candidates).toBe(3);
    expect([...blobs.keysOf((i) => i === 0)]).toEqual(sortedKeys("m1", "base", "app-1"));
    expect([...blobs.keysOf((i) => i > 0)]).toEqual(sortedKeys("m2", "m3", "base", "app-2"));
    expect([...blobs.keysOf(() => true)]).toEqual(sortedKeys("m1", "m2", "m3", "base", "app-1", "app-2"));
    expect([...blobs.keysOf(() => false)]).toEqual([]);
  });

  it("keeps references exact when a repository has more distinct blobs than a byte can index", () => {
    for (const count of [300, 70_000]) {
      const lists = Array.from({ length: count }, (_, i) => digests(`manifest-${i}`, "shared"));
      const many = CandidateBlobs.from(lists);
      expect([...many.keysOf((i) => i === count - 1)]).toEqual(sortedKeys(`manifest-${count - 1}`, "shared"));
      expect(many.keysOf(() => true).length).toBe(count + 1);
    }
  });

  it("holds candidates without blobs", () => {
    const empty = CandidateBlobs.from([[], digests("a")]);
    expect([...empty.keysOf((i) => i === 0)]).toEqual([]);
    expect([...empty.keysOf(() => true)]).toEqual(sortedKeys("a"));
  });
});
