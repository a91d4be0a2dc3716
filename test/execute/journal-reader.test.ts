/**
 * Reading a journal back: every line verified, unusable lines named by number, a manifest once
 * (its first record), a tag once (its last record).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/media-types.js";
import { parseJournal } from "../../src/execute/journal-reader.js";

const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: {}, layers: [] }));
const good = {
  repository: "group/app", digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
  mediaType: MediaType.ociManifest, bytes,
};

describe("parseJournal", () => {
  const line = (overrides: Record<string, unknown> = {}) => JSON.stringify({
    runId: "r", time: "t", repository: good.repository, digest: good.digest, mediaType: good.mediaType,
    manifest: good.bytes.toString("base64"), ...overrides,
  });

  it("keeps verified lines once and names every unusable line", () => {
    const text = [line(), "", line(), "{cut short", line({ digest: "sha256:xyz" }), line({ repository: "Bad Name" }),
      line({ manifest: "not base64!" }), line({ manifest: Buffer.from("{}").toString("base64") }), line({ mediaType: "" })].join("\n");
    const { entries, problems } = parseJournal(text);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.bytes.equals(good.bytes)).toBe(true);
    expect(problems.map((p) => p.line)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(problems[4]!.message).toMatch(/^the manifest bytes hash to sha256:[0-9a-f]{64}, not sha256:/);
  });

  it("reads tag records next to manifest records of the same digest, in file order", () => {
    const text = [line({ tag: "v1" }), line(), line({ tag: "v1.2_rc-3" }), line({ repository: "group/other", tag: "v1" })].join("\n");
    const { entries, problems } = parseJournal(text);
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.line, e.repository, e.tag])).toEqual([
      [1, "group/app", "v1"], [2, "group/app", undefined], [3, "group/app", "v1.2_rc-3"], [4, "group/other", "v1"],
    ]);
    expect(entries[0]!.bytes.equals(good.bytes)).toBe(true);
    expect(entries[0]!.digest).toBe(good.digest);
    expect("tag" in entries[1]!).toBe(false);
  });

  it("skips tag records with an invalid tag name or bytes of another digest, naming the line", () => {
    const other = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [1] })).toString("base64");
    const text = [line({ tag: "-v1" }), line({ tag: ".hidden" }), line({ tag: "a/b" }), line({ tag: "x".repeat(129) }),
      line({ tag: "" }), line({ tag: 7 }), line({ tag: null }), line({ tag: "v1", manifest: other }), line({ tag: "x".repeat(128) })].join("\n");
    const { entries, problems } = parseJournal(text);
    expect(problems.map((p) => p.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(problems[0]!.message).toMatch(/^"tag" is not a valid tag name/);
    expect(problems[7]!.message).toMatch(/^the manifest bytes hash to sha256:[0-9a-f]{64}, not sha256:/);
    expect(entries.map((e) => [e.line, e.tag])).toEqual([[9, "x".repeat(128)]]);
  });

  it("keeps the last record of a tag journaled twice, and each manifest record once", () => {
    const second = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: {}, layers: [{}] }));
    const secondDigest = `sha256:${createHash("sha256").update(second).digest("hex")}`;
    const text = [line({ tag: "v1", runId: "first" }), line(), line({ tag: "v2" }), line(),
      line({ tag: "v1", runId: "second", digest: secondDigest, manifest: second.toString("base64") })].join("\n");
    const { entries } = parseJournal(text);
    expect(entries.map((e) => [e.line, e.tag, e.digest])).toEqual([
      [2, undefined, good.digest], [3, "v2", good.digest], [5, "v1", secondDigest],
    ]);
    expect(entries[2]!.runId).toBe("second");
  });

  it("reads repository records (--delete-empty-repositories) apart, once each, and names bad ones", () => {
    const repository = (overrides: Record<string, unknown> = {}) => JSON.stringify({
      runId: "r", time: "t", repository: "group/project/old", deletedRepository: true, project: "group/project", gitlabId: 7, ...overrides,
    });
    const text = [line(), repository(), repository({ time: "later" }), repository({ gitlabId: "7" }), repository({ project: "" }),
      repository({ deletedRepository: false }), repository({ repository: "Bad Name" })].join("\n");
    const { entries, repositories, problems } = parseJournal(text);
    expect(entries.map((e) => e.line)).toEqual([1]);
    expect(repositories).toEqual([
      { line: 2, runId: "r", time: "t", repository: "group/project/old", project: "group/project", gitlabId: 7 },
    ]);
    expect(problems.map((p) => [p.line, p.message])).toEqual([
      [4, `"gitlabId" is missing or not a number`], [5, `"project" is missing`], [6, `"deletedRepository" is not true`],
      [7, `"repository" is missing or not a valid repository name`],
    ]);
  });
});
