/**
 * Retention deleting a tag that CI pushes again between the registry's read of it and its delete:
 * the watch sees the push, and the tag is put back onto what CI pushed (real files, real inotify;
 * the tag deleter is a stand-in that does what the registry would, with CI's push in between).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepairOutcome, TagOutcome } from "../../src/core/report.js";
import { deleteTags } from "../../src/execute/delete-tags.js";
import type { ManifestWriter } from "../../src/execute/repair.js";
import type { TagDeleteOutcome, TagDeleter } from "../../src/registry/ports.js";
import { FilesystemDriver } from "../../src/storage/filesystem-driver.js";
import { RegistryStorage } from "../../src/storage/registry-storage.js";
import { repoName } from "../helpers/plan-builders.js";

const REPO = repoName("group/project");
let root: string;
let manifests: string;

function manifest(seed: string): { bytes: Buffer; digest: Digest } {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"0".repeat(63)}${seed.length}`, size: 2 }, layers: [], seed,
  }));
  return { bytes, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest };
}

async function store(m: { bytes: Buffer; digest: Digest }): Promise<void> {
  const hex = m.digest.slice(7);
  await mkdir(join(root, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex), { recursive: true });
  await writeFile(join(root, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"), m.bytes);
  await mkdir(join(manifests, "revisions/sha256", hex), { recursive: true });
  await writeFile(join(manifests, "revisions/sha256", hex, "link"), m.digest);
}

async function tag(name: string, digest: Digest): Promise<void> {
  await mkdir(join(manifests, "tags", name, "current"), { recursive: true });
  await writeFile(join(manifests, "tags", name, "current/link"), digest);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "tag-race-"));
  manifests = join(root, "docker/registry/v2/repositories", REPO, "_manifests");
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Deletes by name, as the registry does, after `between` ran (CI's push of the same tag). */
function deleter(between: () => Promise<void>): TagDeleter {
  return {
    tagDeleteMethod: async () => "tag-delete",
    deleteTags: async (_name, tags) => {
      await between();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const outcomes = new Map<string, TagDeleteOutcome>();
      for (const name of tags.keys()) {
        await rm(join(manifests, "tags", name), { recursive: true, force: true });
        outcomes.set(name, { kind: "deleted" });
      }
      return outcomes;
    },
  };
}

function writer(): ManifestWriter & { puts: string[] } {
  const puts: string[] = [];
  return {
    puts,
    putManifest: async (_n, digest) => void puts.push(`digest ${digest}`),
    putTag: async (_n, name, digest) => void puts.push(`tag ${name} ${digest}`),
    tagDigest: async () => undefined,
  };
}

describe("deleteTags while CI pushes the same tag", () => {
  it("puts the tag back onto the manifest CI pushed between the read and the delete", async () => {
    const old = manifest("old");
    const fresh = manifest("fresh");
    await store(old);
    await store(fresh);
    await tag("v1", old.digest);
    const out = writer();
    const repairs: RepairOutcome[] = [];
    const tags: TagOutcome[] = [];
    await deleteTags(REPO, [{ tag: "v1", digest: old.digest, pushedAt: 0, reason: "older than 30d" }], {
      storage: new RegistryStorage(new FilesystemDriver(root)), runId: "r", now: Date.now,
      tagDeleter: deleter(() => tag("v1", fresh.digest)), emitTag: (o) => tags.push(o), emitRepair: (o) => repairs.push(o), writer: out,
    });
    expect(tags.map((o) => o.kind)).toEqual(["deleted"]);
    expect(out.puts).toEqual([`tag v1 ${fresh.digest}`]);
    expect(repairs).toEqual([expect.objectContaining({ kind: "restored", digest: fresh.digest, reason: "tag v1 was pushed again while retention deleted it" })]);
  });

  it("puts nothing back when no one pushed the tag", async () => {
    const old = manifest("old");
    await store(old);
    await tag("v1", old.digest);
    const out = writer();
    await deleteTags(REPO, [{ tag: "v1", digest: old.digest, pushedAt: 0, reason: "older than 30d" }], {
      storage: new RegistryStorage(new FilesystemDriver(root)), runId: "r", now: Date.now,
      tagDeleter: deleter(async () => {}), emitTag: () => {}, emitRepair: () => {}, writer: out,
    });
    expect(out.puts).toEqual([]);
  });
});
