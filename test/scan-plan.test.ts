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

describe("a dry run, streamed", () => {
  it("previews each repository while the scan goes on, in the listing's order", async () => {
    for (const name of ["group/a", "group/b", "group/z"]) await tree.push(name, await manifest(`config ${name}`, [`layer ${name}`]));
    const storage = new FilesystemStorageReader(tree.root);
    const seen: string[] = [];
    let outcomeSeen = (): void => {};
    const sawOutcome = new Promise<void>((resolve) => (outcomeSeen = resolve));
    const readRepository = storage.readRepository.bind(storage);
    storage.readRepository = async (name) => {
      // Held (for 3 s at most) until the first repository was previewed: a run that waits for
      // the whole scan first would only get there after the timeout.
      if (name === "group/z") await Promise.race([sawOutcome, new Promise((resolve) => setTimeout(resolve, 3000))]);
      seen.push(`read ${name}`);
      return readRepository(name);
    };
    const report = await runCleanup(
      { storage, tokens: grantAll, registry, preflight: async () => {}, now: Date.now, runId: "t" },
      { dryRun: true, minAgeMs: 0, concurrency: 2, scanConcurrency: 1, policy: gracePolicy(0) },
      { outcome: (outcome) => (seen.push(`${outcome.kind} ${outcome.repository}`), outcomeSeen()) },
    );
    expect(seen.indexOf("would-delete group/a")).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf("would-delete group/a")).toBeLessThan(seen.indexOf("read group/z"));
    expect(seen.filter((line) => line.startsWith("would-delete"))).toEqual(["would-delete group/a", "would-delete group/b", "would-delete group/z"]);
    expect(report.outcomes["would-delete"]).toBe(3);
    expect(report.space?.freedByRun.blobs).toBe(9);
  });
});
