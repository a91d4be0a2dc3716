/** Reading a journal back: every line verified, unusable lines named by number, duplicates once. */
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
});
