/**
 * The restore use case with a fake registry: the order of uploads, what a failure blocks, and
 * how refusals are explained.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Digest } from "../src/core/digest.js";
import { MediaType } from "../src/core/media-types.js";
import type { RepositoryName } from "../src/core/repository-name.js";
import type { JournalEntry } from "../src/execute/journal-reader.js";
import type { TokenProvider } from "../src/gitlab/ports.js";
import type { FetchedManifest } from "../src/registry/ports.js";
import { RegistryError } from "../src/registry/registry-error.js";
import { runRestore, type RestoreOutcome, type RestoreRegistry } from "../src/restore.js";

const REPO = "group/app" as RepositoryName;

function entry(manifest: unknown, mediaType: string, repository = REPO): JournalEntry {
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest;
  return { line: 0, runId: "r", time: "", repository, digest, mediaType, bytes };
}

const image = (seed: number, subject?: JournalEntry): JournalEntry => entry({
  schemaVersion: 2, mediaType: MediaType.ociManifest,
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"c".repeat(63)}${seed}`, size: 1 },
  layers: [], ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length } } : {}),
}, MediaType.ociManifest);

const indexOf = (...children: JournalEntry[]): JournalEntry => entry({
  schemaVersion: 2, mediaType: MediaType.ociIndex,
  manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length })),
}, MediaType.ociIndex);

/** A registry where nothing is present; `refuse` decides per digest which PUTs fail and how. */
class FakeRegistry implements RestoreRegistry {
  readonly puts: Digest[] = [];
  constructor(private readonly refuse: (digest: Digest) => RegistryError | undefined = () => undefined) {}
  async headManifest(_name: RepositoryName, digest: Digest) {
    return this.puts.includes(digest) ? { mediaType: "x" } : undefined;
  }
  async putManifest(_name: RepositoryName, digest: Digest, _manifest: FetchedManifest) {
    const refusal = this.refuse(digest);
    if (refusal) throw refusal;
    this.puts.push(digest);
  }
}

const tokens = (push = true): TokenProvider => ({
  verifyCredentials: async () => undefined,
  authorize: async (names) => new Map(names.map((name) => [name, push])),
  tokenFor: async () => "token",
  requestCount: 0,
});

async function restore(entries: JournalEntry[], registry: RestoreRegistry, options = {}, push = true) {
  const outcomes: RestoreOutcome[] = [];
  const report = await runRestore(entries, { tokens: tokens(push), registry }, { dryRun: false, ...options }, { outcome: (o) => void outcomes.push(o) });
  return { report, outcomes, by: (e: JournalEntry) => outcomes.find((o) => o.digest === e.digest) };
}

const blobUnknown = (blob: string) => new RegistryError({
  operation: "uploading manifest", status: 400, code: "MANIFEST_BLOB_UNKNOWN", message: "400 MANIFEST_BLOB_UNKNOWN",
  entries: [{ code: "MANIFEST_BLOB_UNKNOWN", message: "blob unknown to registry", detail: blob }],
});

describe("runRestore", () => {
  const amd64 = image(1);
  const arm64 = image(2);
  const multi = indexOf(amd64, arm64);
  const signature = image(3, multi);

  it("uploads children before their index and subjects before their referrers", async () => {
    const registry = new FakeRegistry();
    const { report } = await restore([signature, multi, arm64, amd64], registry);
    expect(registry.puts.slice(2)).toEqual([multi.digest, signature.digest]);
    expect(report.outcomes.restored).toBe(4);
  });

  it("explains layers removed by garbage collection, and blocks what needed the manifest", async () => {
    const gone = `sha256:${"d".repeat(64)}`;
    const registry = new FakeRegistry((digest) => (digest === amd64.digest ? blobUnknown(gone) : undefined));
    const { by, report } = await restore([multi, amd64, arm64, signature], registry);
    expect(by(amd64)?.detail).toBe(`its layers were already removed by garbage collection (the registry has no blob ${gone}), ` +
      "so it cannot be restored; push the image again");
    expect(by(multi)?.detail).toBe(`it needs ${amd64.digest}, which could not be restored`);
    expect(by(signature)?.detail).toBe(`it needs ${multi.digest}, which could not be restored`);
    expect(by(arm64)?.kind).toBe("restored");
    expect(report.outcomes.failed).toBe(3);
  });

  it("says which listed manifest is missing when an index is refused", async () => {
    const registry = new FakeRegistry((digest) => (digest === multi.digest ? blobUnknown(arm64.digest) : undefined));
    const { by } = await restore([multi], registry);
    expect(by(multi)?.detail).toBe(`it lists ${arm64.digest}, which the repository no longer has (restore or push it first)`);
  });

  it("--digest brings the journaled manifests it needs; dry runs and missing push upload nothing", async () => {
    const registry = new FakeRegistry();
    const unknown = `sha256:${"e".repeat(64)}` as Digest;
    const { outcomes, report } = await restore([amd64, arm64, multi, signature], registry, { dryRun: true, digests: new Set([multi.digest, unknown]) });
    expect(outcomes.map((o) => o.kind)).toEqual(["would-restore", "would-restore", "would-restore"]);
    expect(report.notInJournal).toEqual([unknown]);
    expect(registry.puts).toEqual([]);
    const denied = await restore([amd64], registry, {}, false);
    expect(denied.by(amd64)?.detail).toContain("lacks push here");
  });

  it("reports already present manifests without uploading them again", async () => {
    const registry = new FakeRegistry();
    await restore([amd64], registry);
    const { by } = await restore([amd64], registry);
    expect(by(amd64)?.kind).toBe("already-present");
    expect(registry.puts).toEqual([amd64.digest]);
  });
});
