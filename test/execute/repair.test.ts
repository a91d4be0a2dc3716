/**
 * RepositoryRepair over a storage that cannot watch (as on S3): after the last DELETE it reads the
 * repository again and puts back what a tag now needs; a tag link that stays unreadable does not
 * keep it looking forever.
 */
import { describe, expect, it } from "vitest";
import { gracePolicy } from "../../src/core/policy.js";
import type { RepairOutcome } from "../../src/core/report.js";
import type { RepositorySnapshot } from "../../src/core/types.js";
import { RepositoryRepair, type ManifestWriter } from "../../src/execute/repair.js";
import { Semaphore } from "../../src/execute/pool.js";
import type { StorageReader } from "../../src/storage/storage-reader.js";
import { fakeDigest, repoName, unreadableTag } from "../helpers/plan-builders.js";

const name = repoName("group/project");
const deleted = fakeDigest("deleted");
const MANIFEST = Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: fakeDigest("config"), size: 10 }, layers: [],
}));

function storage(snapshot: () => RepositorySnapshot): StorageReader & { reads: number } {
  const reader = {
    reads: 0,
    location: "/fake",
    listRepositories: () => { throw new Error("not used"); },
    readRepository: async () => { reader.reads++; return snapshot(); },
    readTags: async () => snapshot(),
    hasRevision: async () => false,
    readBlob: async () => MANIFEST,
    listBlobs: () => { throw new Error("not used"); },
  };
  return reader as unknown as StorageReader & { reads: number };
}

function writer(): ManifestWriter & { puts: string[] } {
  const puts: string[] = [];
  return {
    puts,
    putManifest: async (_n, digest) => void puts.push(`digest ${digest}`),
    putTag: async (_n, tag, digest) => void puts.push(`tag ${tag} ${digest}`),
    tagDigest: async () => undefined,
  };
}

async function repaired(snapshot: () => RepositorySnapshot) {
  const outcomes: RepairOutcome[] = [];
  const store = storage(snapshot);
  const out = writer();
  const repair = new RepositoryRepair(name, Date.now() - 60_000, new Set(), {
    storage: store, now: Date.now, policy: gracePolicy(0), writer: out, slots: new Semaphore(2), emitRepair: (o) => outcomes.push(o),
  });
  repair.deletedOne(deleted);
  await repair.finish();
  return { outcomes, puts: out.puts, reads: store.reads };
}

describe("RepositoryRepair without a watch", () => {
  it("puts a deleted manifest back by the tag that points at it now", async () => {
    const snapshot = (): RepositorySnapshot => ({ name, revisions: [], tags: new Map([["v2", deleted]]), unreadableTags: [], warnings: [] });
    const { outcomes, puts } = await repaired(snapshot);
    expect(puts).toEqual([`tag v2 ${deleted}`]);
    expect(outcomes).toEqual([expect.objectContaining({ kind: "restored", digest: deleted, tags: ["v2"], reason: "tag v2 was pushed onto it during the cleanup" })]);
  });

  it("stops looking again at a tag that stays unreadable, and still repairs", async () => {
    const snapshot = (): RepositorySnapshot => ({
      name, revisions: [], tags: new Map([["v2", deleted]]), unreadableTags: [unreadableTag("broken")], warnings: [],
    });
    const { puts, reads } = await repaired(snapshot);
    expect(reads).toBeLessThanOrEqual(6);
    expect(puts).toEqual([`tag v2 ${deleted}`]);
  });

  it("does nothing when nothing needs what was deleted", async () => {
    const snapshot = (): RepositorySnapshot => ({ name, revisions: [], tags: new Map(), unreadableTags: [], warnings: [] });
    expect((await repaired(snapshot)).puts).toEqual([]);
  });
});
