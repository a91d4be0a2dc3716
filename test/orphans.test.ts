/**
 * Orphans in the use case: what each holds alone and shares (measured in the space estimate's
 * pass, after the run's deletions), its last push, and how an administrator's password tells
 * orphans from missing permission.
 */
import { stat } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCleanup } from "../src/cleanup.js";
import type { Digest } from "../src/core/digest.js";
import type { RepositoryName } from "../src/core/repository-name.js";
import type { TokenProvider } from "../src/gitlab/ports.js";
import type { RegistryApi } from "../src/registry/ports.js";
import { exitCodeFor } from "../src/cli/exit-code.js";
import { FilesystemStorageReader } from "../src/storage/filesystem-reader.js";
import { blobDataPath, createStorageTree, type StorageTree } from "./helpers/storage-tree.js";

/** Delete anywhere but below ghost/ (no project: GitLab grants nothing there, even to an admin). */
function tokens(administrator: boolean | undefined): TokenProvider & { catalogAsked: number } {
  const provider = {
    catalogAsked: 0,
    verifyCredentials: async () => {},
    authorize: async (names: readonly RepositoryName[]) => new Map(names.map((name) => [name, !name.startsWith("ghost/")])),
    tokenFor: () => Promise.reject(new Error("no token in this test")),
    requestCount: 0,
    ...(administrator === undefined ? {} : {
      isAdministrator: async () => {
        provider.catalogAsked++;
        return administrator;
      },
    }),
  };
  return provider as TokenProvider & { catalogAsked: number };
}
const refuse = (): Promise<never> => Promise.reject(new Error("no registry in this test"));
const registry: RegistryApi = {
  ping: async () => ({}), listTags: async (name) => (name === "live/app" ? ["v1"] : []),
  deleteManifest: refuse, getManifest: refuse, putManifest: refuse,
};

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

const blobs = new Map<string, Digest>();
async function manifest(config: string, layers: string[]): Promise<object> {
  const blob = async (content: string) => {
    const digest = await tree.writeBlob(content);
    blobs.set(content, digest);
    return { mediaType: "application/octet-stream", digest, size: content.length };
  };
  return { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: await blob(config), layers: await Promise.all(layers.map(blob)) };
}

async function sizeOf(...digests: Digest[]): Promise<number> {
  let total = 0;
  for (const digest of digests) total += (await stat(blobDataPath(tree.root, digest))).size;
  return total;
}

async function dryRun(provider: TokenProvider) {
  return runCleanup(
    { storage: new FilesystemStorageReader(tree.root), tokens: provider, registry, preflight: async () => {}, now: Date.now, runId: "t" },
    { dryRun: true, minAgeMs: 0, concurrency: 2 },
  );
}

describe("orphans", () => {
  it("holds alone what no remaining manifest elsewhere uses, shares the rest, and is dated by its newest link", async () => {
    // live/app keeps "shared layer" (tagged); its old manifest, the only other user of "old layer", goes in this run.
    await tree.push("live/app", await manifest("config live", ["shared layer", "live layer"]), { tags: ["v1"] });
    const old = await tree.push("live/app", await manifest("config live old", ["old layer"]), { linkedAt: new Date("2024-01-01T00:00:00Z") });
    const first = await tree.push("ghost/app", await manifest("config ghost", ["shared layer", "ghost layer"]), { linkedAt: new Date("2024-03-01T00:00:00Z") });
    const second = await tree.push("ghost/app", await manifest("config ghost 2", ["old layer", "ghost layer"]), { linkedAt: new Date("2024-04-02T12:00:00Z") });
    const provider = tokens(true);
    const report = await dryRun(provider);
    expect(report.outcomes["would-delete"]).toBe(1);
    expect(report.skipped.map((s) => [s.name, s.reason])).toEqual([["ghost/app", "orphan"]]);
    const own = [first, second, ...["config ghost", "config ghost 2", "ghost layer", "old layer"].map((c) => blobs.get(c)!)];
    expect(report.orphans).toEqual([{
      name: "ghost/app", uniqueBytes: await sizeOf(...own), sharedBytes: await sizeOf(blobs.get("shared layer")!),
      lastPushAt: Date.parse("2024-04-02T12:00:00Z"), manifests: 2, tags: 0, candidates: 2,
    }]);
    // The orphan stays in the blob store: "old layer", which it uses too, is not counted as freed.
    expect(report.space!.freedByRun).toEqual({ blobs: 2, bytes: await sizeOf(old, blobs.get("config live old")!) });
    expect(report.administrator).toBe(true);
    expect(provider.catalogAsked).toBe(1);
    expect(exitCodeFor(report)).toBe(0);
  });

  it("shares what another repository keeps, even an orphan with nothing to delete (never checked itself)", async () => {
    const one = await tree.push("ghost/one", await manifest("config one", ["common layer"]));
    await tree.push("ghost/two", await manifest("config two", ["common layer"]), { tags: ["latest"] });
    const report = await dryRun(tokens(true));
    // ghost/two has nothing untagged: nothing to delete there, so it is not checked, but it still shares.
    expect(report.orphans?.map((o) => [o.name, o.uniqueBytes, o.sharedBytes, o.tags])).toEqual([
      ["ghost/one", await sizeOf(one, blobs.get("config one")!), await sizeOf(blobs.get("common layer")!), 0],
    ]);
  });

  it("a steady state of orphans alone exits 0 for an administrator with a password, 4 for anyone else", async () => {
    await tree.push("ghost/app", await manifest("config ghost", ["ghost layer"]));
    const admin = await dryRun(tokens(true));
    expect(admin.skipped.map((s) => s.reason)).toEqual(["orphan"]);
    expect(admin.skipped[0]!.detail).toContain("with a password the REST API cannot be asked");
    expect(exitCodeFor(admin)).toBe(0);
    const user = await dryRun(tokens(false));
    expect(user.skipped.map((s) => s.reason)).toEqual(["no-permission"]);
    expect(user.orphans).toEqual([]);
    expect(user.administrator).toBe(false);
    expect(exitCodeFor(user)).toBe(4);
    // A provider that cannot tell (no catalog request): unknown, so nothing is claimed about orphans.
    const unknown = await dryRun(tokens(undefined));
    expect(unknown.skipped.map((s) => s.reason)).toEqual(["no-permission"]);
    expect(unknown.administrator).toBeUndefined();
    expect(exitCodeFor(unknown)).toBe(4);
  });

  it("asks nothing about the user when nothing is refused", async () => {
    await tree.push("live/app", await manifest("config live", ["live layer"]), { tags: ["v1"] });
    await tree.push("live/app", await manifest("config live old", ["old layer"]));
    const provider = tokens(true);
    const report = await dryRun(provider);
    expect(report.orphans).toEqual([]);
    expect(provider.catalogAsked).toBe(0);
    expect(report.administrator).toBeUndefined();
  });
});
