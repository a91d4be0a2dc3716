/** The scan phase with repository filters: what the filters leave out still counts for the space estimate. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCleanup } from "../src/cleanup.js";
import { gracePolicy } from "../src/core/policy.js";
import type { TokenProvider } from "../src/gitlab/ports.js";
import type { RegistryApi } from "../src/registry/ports.js";
import { FilesystemStorageReader } from "../src/storage/filesystem-reader.js";
import { type StorageTree, createStorageTree } from "./helpers/storage-tree.js";

const grantAll: TokenProvider = {
  verifyCredentials: async () => {},
  authorize: async (names) => new Map(names.map((name) => [name, true])),
  tokenFor: () => Promise.reject(new Error("no token in this test")),
  requestCount: 0,
};
const refuse = (): Promise<never> => Promise.reject(new Error("no registry in this test"));
/** A dry run only pings and cross-checks tags; clean/app has none. */
const registry: RegistryApi = { ping: async () => ({}), listTags: async () => [], deleteManifest: refuse, getManifest: refuse, putManifest: refuse };

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

async function manifest(config: string, layers: string[]): Promise<object> {
  const blob = async (content: string) => ({ mediaType: "application/octet-stream", digest: await tree.writeBlob(content), size: content.length });
  return { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: await blob(config), layers: await Promise.all(layers.map(blob)) };
}

describe("scanAndPlan with --repository filters", () => {
  it("marks the blobs of repositories it leaves out, so a shared layer is neither freed nor unreferenced", async () => {
    await tree.push("keep/app", await manifest("config keep", ["shared layer"]), { tags: ["v1"] });
    await tree.push("clean/app", await manifest("config clean", ["shared layer", "own layer"]));
    const report = await runCleanup(
      { storage: new FilesystemStorageReader(tree.root), tokens: grantAll, registry, preflight: async () => {}, now: Date.now, runId: "t" },
      { dryRun: true, minAgeMs: 0, concurrency: 2, policy: { ...gracePolicy(0), repositories: { include: ["clean/**"], exclude: [] } } },
    );
    expect(report.repositories).toBe(1);
    expect(report.candidates).toBe(1);
    // The candidate itself, its config and its own layer; the shared layer stays for keep/app.
    expect(report.space?.freedByRun.blobs).toBe(3);
    expect(report.space?.alreadyUnreferenced).toEqual({ blobs: 0, bytes: 0 });
  });
});

describe("scanAndPlan's repositories at once", () => {
  it("reads as many at once as the storage asks: 4 on a filesystem, whose reads run in worker threads", async () => {
    for (let i = 0; i < 12; i++) await tree.push(`group/app${i}`, await manifest(`config ${i}`, [`layer ${i}`]));
    const storage = new FilesystemStorageReader(tree.root);
    expect(storage.repositoriesAtOnce).toBe(4);
    let reading = 0;
    let most = 0;
    const readRepository = storage.readRepository.bind(storage);
    storage.readRepository = async (name) => {
      most = Math.max(most, ++reading);
      try {
        return await readRepository(name);
      } finally {
        reading--;
      }
    };
    const report = await runCleanup(
      { storage, tokens: grantAll, registry, preflight: async () => {}, now: Date.now, runId: "t" },
      { dryRun: true, minAgeMs: 0, concurrency: 2, policy: gracePolicy(0) },
    );
    expect(report.repositories).toBe(12);
    expect(most).toBe(4);
  });
});
