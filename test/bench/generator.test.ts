/**
 * Smoke test of the benchmark generator (size XS): what it writes reads back through the tool's
 * own reader and planner with the counts the model predicts, and the real registry serves it,
 * which proves the layout is the registry's and not merely the reader's.
 */
import { gracePolicy } from "../../src/core/policy.js";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateStorage, HALF_TIME, type StorageSummary } from "../../bench/generator.js";
import { projectsOf } from "../../bench/environment.js";
import { repositoryModels } from "../../bench/model.js";
import { MANIFEST_ACCEPT } from "../../src/core/media-types.js";
import { planRepository } from "../../src/core/plan.js";
import type { StorageWarning } from "../../src/core/types.js";
import { FilesystemStorageReader } from "../../src/storage/filesystem-reader.js";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { fetchToken, registryCall } from "../helpers/registry-http.js";

const SEED = 7;
let env: Environment;
let summary: StorageSummary;

beforeAll(async () => {
  env = await startEnvironment({ projects: projectsOf(repositoryModels("XS", SEED)) });
  summary = await generateStorage(env.registry.storageRoot, "XS", SEED);
});

afterAll(async () => {
  await env?.stop();
});

async function planAll(minAgeMs: number): Promise<{ repositories: number; manifests: number; kept: number; candidates: number; warnings: StorageWarning[] }> {
  const reader = new FilesystemStorageReader(env.registry.storageRoot);
  const totals = { repositories: 0, manifests: 0, kept: 0, candidates: 0, warnings: [] as StorageWarning[] };
  for await (const name of reader.listRepositories((warning) => totals.warnings.push(warning))) {
    const snapshot = await reader.readRepository(name);
    const plan = planRepository(snapshot, { now: Date.now(), policy: gracePolicy(minAgeMs) });
    totals.repositories++;
    totals.manifests += snapshot.revisions.length;
    totals.kept += plan.kept.length;
    totals.candidates += plan.candidates.length;
    totals.warnings.push(...plan.warnings);
  }
  return totals;
}

describe("bench generator (XS)", () => {
  it("is deterministic: the same seed gives the same repositories and pushes", () => {
    expect(repositoryModels("XS", SEED)).toEqual(repositoryModels("XS", SEED));
    expect(repositoryModels("XS", SEED + 1)).not.toEqual(repositoryModels("XS", SEED));
  });

  it("writes repositories at several depths, re-pushed tags and multi-arch indexes", () => {
    const models = repositoryModels("XS", SEED);
    expect(new Set(models.map((m) => m.name.split("/").length)).size).toBeGreaterThan(1);
    expect(models.some((m) => m.pushes.length > m.tags.length)).toBe(true);
    expect(summary.repositories).toBe(models.length);
    expect(summary.manifests).toBeGreaterThan(40);
  });

  it("reads back through FilesystemStorageReader and plans to the counts the model predicts", async () => {
    const all = await planAll(0);
    expect(all.warnings).toEqual([]);
    expect(all).toMatchObject({
      repositories: summary.repositories, manifests: summary.manifests, kept: summary.kept, candidates: summary.candidates,
    });
    // A grace period reaching back to HALF_TIME keeps the younger candidates.
    const older = await planAll(Date.now() - HALF_TIME);
    expect(older.candidates).toBe(summary.olderHalf);
    expect(summary.olderHalf).toBeGreaterThan(0);
    expect(summary.olderHalf).toBeLessThan(summary.candidates);
  });

  it("is served by the real registry: GET by tag with the full Accept header", async () => {
    expect(summary.sample.length).toBe(summary.repositories);
    const mediaTypes = new Set<string>();
    for (const { name, tag, digest, mediaType } of summary.sample) {
      const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${name}:pull`]);
      const reply = await registryCall(env.registry.url, "GET", `/v2/${name}/manifests/${tag}`, {
        token, headers: { accept: MANIFEST_ACCEPT },
      });
      expect(reply.status, `${name}:${tag}: ${reply.body.toString()}`).toBe(200);
      expect(`sha256:${createHash("sha256").update(reply.body).digest("hex")}`).toBe(digest);
      expect(reply.headers["content-type"]).toBe(mediaType);
      mediaTypes.add(mediaType);
    }
    // Both single images and indexes were served.
    expect([...mediaTypes].some((type) => type.includes("index") || type.includes("list"))).toBe(true);
  });
});
