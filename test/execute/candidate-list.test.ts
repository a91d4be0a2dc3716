import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import { CandidateList } from "../../src/execute/candidate-list.js";
import { fakeDigest } from "../helpers/plan-builders.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";

describe("CandidateList", () => {
  it("gives back exactly the candidates it was built from, in order", () => {
    const candidates = Array.from({ length: 300 }, (_, i) => ({ digest: fakeDigest(`m${i}`), mediaType: i % 3 === 0 ? INDEX : OCI }));
    const list = CandidateList.from(candidates);
    expect(list.length).toBe(300);
    expect(list.toArray()).toEqual(candidates);
    expect([...list]).toEqual(candidates);
    expect(list.at(7)).toEqual(candidates[7]);
  });

  it("keeps only the digest and media type of a planned candidate", () => {
    const candidate = { digest: fakeDigest("a"), mediaType: OCI, ageMs: 5, blobs: [fakeDigest("layer")] };
    expect(CandidateList.from([candidate]).toArray()).toEqual([{ digest: candidate.digest, mediaType: OCI }]);
  });

  it("keeps sha512 digests as they are", () => {
    const sha512 = `sha512:${"ab".repeat(64)}` as Digest;
    const candidates = [{ digest: fakeDigest("a"), mediaType: OCI }, { digest: sha512, mediaType: OCI }];
    const list = CandidateList.from(candidates);
    expect(list.toArray()).toEqual(candidates);
  });

  it("is empty when empty", () => {
    expect(CandidateList.empty.length).toBe(0);
    expect(CandidateList.from([]).toArray()).toEqual([]);
  });
});
