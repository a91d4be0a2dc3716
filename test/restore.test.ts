/**
 * The restore use case with a fake registry: the order of uploads, what a failure blocks, how
 * refusals are explained, and tags: after their manifests, never over a tag pushed again since.
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
import { runRestore, type RestoreOutcome, type RestoreRegistry, type TagRestoreOutcome } from "../src/restore.js";

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

const tagged = (of: JournalEntry, tag: string, repository = of.repository): JournalEntry => ({ ...of, repository, tag });

/**
 * A registry where nothing is present; `refuse` decides per digest which PUTs fail and how.
 * `puts` logs manifest PUTs by digest, and PUTs by tag as `tag=digest`; `tags` is what tags
 * point at (a PUT by tag also stores the manifest, as in the registry).
 */
class FakeRegistry implements RestoreRegistry {
  readonly puts: string[] = [];
  readonly tags = new Map<string, Digest>();
  constructor(private readonly refuse: (digest: Digest) => RegistryError | undefined = () => undefined) {}
  async headManifest(_name: RepositoryName, digest: Digest) {
    return this.puts.includes(digest) ? { mediaType: "x" } : undefined;
  }
  async putManifest(_name: RepositoryName, digest: Digest, _manifest: FetchedManifest) {
    const refusal = this.refuse(digest);
    if (refusal) throw refusal;
    this.puts.push(digest);
  }
  async tagDigest(name: RepositoryName, tag: string) {
    return this.tags.get(`${name}:${tag}`);
  }
  async putTag(name: RepositoryName, tag: string, digest: Digest, manifest: FetchedManifest) {
    expect(createHash("sha256").update(manifest.bytes).digest("hex")).toBe(digest.slice("sha256:".length));
    const refusal = this.refuse(digest);
    if (refusal) throw refusal;
    this.puts.push(`${tag}=${digest}`);
    this.tags.set(`${name}:${tag}`, digest);
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
  const tagOutcomes: TagRestoreOutcome[] = [];
  const report = await runRestore(entries, { tokens: tokens(push), registry }, { dryRun: false, ...options }, {
    outcome: (o) => void outcomes.push(o), tagOutcome: (o) => void tagOutcomes.push(o),
  });
  return {
    report, outcomes, tagOutcomes,
    by: (e: JournalEntry) => outcomes.find((o) => o.digest === e.digest),
    byTag: (tag: string) => tagOutcomes.find((o) => o.tag === tag),
  };
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

describe("runRestore with tag records", () => {
  const amd64 = image(1);
  const arm64 = image(2);
  const multi = indexOf(amd64, arm64);
  const other = image(4);

  it("puts manifests back by digest first, then each tag by name onto its journaled manifest", async () => {
    const registry = new FakeRegistry();
    const { report, byTag } = await restore([tagged(multi, "v1"), tagged(amd64, "amd64"), multi, arm64, amd64], registry);
    expect(registry.puts.slice(0, 2).sort()).toEqual([amd64.digest, arm64.digest].sort());
    expect(registry.puts[2]).toBe(multi.digest);
    expect(registry.puts.slice(3)).toEqual([`v1=${multi.digest}`, `amd64=${amd64.digest}`]);
    expect(byTag("v1")).toEqual({ repository: REPO, tag: "v1", digest: multi.digest, mediaType: multi.mediaType, kind: "restored" });
    expect(report.selected).toBe(3);
    expect(report.selectedTags).toBe(2);
    expect(report.tagOutcomes.restored).toBe(2);
  });

  it("restores the tags of one manifest one after another, those of different manifests together", async () => {
    // A PUT by tag rewrites the manifest's revision link in place: a GET of another tag on the
    // same manifest meanwhile gets the registry's 500. This registry fails the same way.
    class Racy extends FakeRegistry {
      readonly busy = new Map<Digest, number>();
      most = 0;
      private async during<T>(digest: Digest, work: () => Promise<T>): Promise<T> {
        const now = (this.busy.get(digest) ?? 0) + 1;
        this.busy.set(digest, now);
        this.most = Math.max(this.most, [...this.busy.values()].filter((n) => n > 0).length);
        if (now > 1) throw new RegistryError({ operation: "checking tag", status: 500, code: "UNKNOWN", message: "500 UNKNOWN: unknown error" });
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return await work();
        } finally {
          this.busy.set(digest, this.busy.get(digest)! - 1);
        }
      }
      override async tagDigest(name: RepositoryName, tag: string) {
        const journaled = [amd64, arm64].find((e) => tag.startsWith(e === amd64 ? "amd" : "arm"))!;
        return this.during(journaled.digest, () => super.tagDigest(name, tag));
      }
      override async putTag(name: RepositoryName, tag: string, digest: Digest, manifest: FetchedManifest) {
        return this.during(digest, () => super.putTag(name, tag, digest, manifest));
      }
    }
    const registry = new Racy();
    const tags = ["amd-1", "amd-2", "amd-3", "arm-1", "arm-2"].map((tag) => tagged(tag.startsWith("amd") ? amd64 : arm64, tag));
    const { report } = await restore([...tags, amd64, arm64], registry);
    expect(report.tagOutcomes).toEqual({ restored: 5, "would-restore": 0, "already-present": 0, skipped: 0, failed: 0 });
    expect(registry.most).toBe(2);
  });

  it("leaves a tag pushed again since alone, and reports one already on its manifest", async () => {
    const registry = new FakeRegistry();
    registry.tags.set(`${REPO}:v1`, other.digest);
    registry.tags.set(`${REPO}:v2`, amd64.digest);
    const { byTag, report } = await restore([tagged(amd64, "v1"), tagged(amd64, "v2")], registry);
    expect(byTag("v1")).toMatchObject({ kind: "skipped", current: other.digest });
    expect(byTag("v2")?.kind).toBe("already-present");
    expect(registry.puts).toEqual([]);
    expect(report.tagOutcomes).toEqual({ restored: 0, "would-restore": 0, "already-present": 1, skipped: 1, failed: 0 });
  });

  it("does not PUT a tag whose manifest (or a manifest it lists) could not be restored", async () => {
    const gone = `sha256:${"d".repeat(64)}`;
    const registry = new FakeRegistry((digest) => (digest === arm64.digest ? blobUnknown(gone) : undefined));
    const { byTag } = await restore([tagged(arm64, "arm"), tagged(multi, "v1"), arm64, amd64], registry);
    expect(byTag("arm")?.detail).toBe(`it needs ${arm64.digest}, which could not be restored`);
    expect(byTag("v1")?.detail).toBe(`it needs ${arm64.digest}, which could not be restored`);
    expect(registry.puts).toEqual([amd64.digest]);
  });

  it("explains a refused PUT by tag like a refused PUT by digest", async () => {
    const registry = new FakeRegistry((digest) => (digest === multi.digest ? blobUnknown(arm64.digest) : undefined));
    const { byTag } = await restore([tagged(multi, "v1")], registry);
    expect(byTag("v1")?.detail).toBe(`it lists ${arm64.digest}, which the repository no longer has (restore or push it first)`);
  });

  it("--tag selects those tags and the journaled manifests they need, nothing else", async () => {
    const registry = new FakeRegistry();
    const journal = [amd64, arm64, multi, other, tagged(multi, "v1"), tagged(other, "v2"), tagged(amd64, "v1", "group/else" as RepositoryName)];
    const { outcomes, tagOutcomes, report } = await restore(journal, registry, { tags: new Set(["v1", "nope"]), repositories: new Set([REPO]) });
    expect(outcomes.map((o) => o.digest).sort()).toEqual([amd64.digest, arm64.digest, multi.digest].sort());
    expect(tagOutcomes.map((o) => [o.repository, o.tag, o.kind])).toEqual([[REPO, "v1", "restored"]]);
    expect(report.tagsNotInJournal).toEqual(["nope"]);
  });

  it("--digest selects that manifest with its journaled tags; with --tag, only tags on it", async () => {
    const journal = [amd64, other, tagged(amd64, "a"), tagged(other, "o")];
    const byDigest = await restore(journal, new FakeRegistry(), { digests: new Set([amd64.digest]) });
    expect(byDigest.outcomes.map((o) => o.digest)).toEqual([amd64.digest]);
    expect(byDigest.tagOutcomes.map((o) => o.tag)).toEqual(["a"]);
    const both = await restore(journal, new FakeRegistry(), { digests: new Set([amd64.digest]), tags: new Set(["o"]) });
    expect(both.report.selected + both.report.selectedTags).toBe(0);
  });

  it("a dry run checks tags and changes nothing; without push no tag is touched", async () => {
    const registry = new FakeRegistry();
    registry.tags.set(`${REPO}:taken`, other.digest);
    const dry = await restore([amd64, tagged(amd64, "v1"), tagged(amd64, "taken")], registry, { dryRun: true });
    expect(dry.tagOutcomes.map((o) => o.kind)).toEqual(["would-restore", "skipped"]);
    expect(registry.puts).toEqual([]);
    const denied = await restore([tagged(amd64, "v1")], registry, {}, false);
    expect(denied.byTag("v1")?.detail).toContain("lacks push here");
    expect(registry.puts).toEqual([]);
  });
});
