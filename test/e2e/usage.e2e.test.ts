/**
 * `gitlab-registry-cleanup usage`, the built CLI end to end: first on a storage tree written by
 * hand, whose numbers are summed by hand below; then on the real registry with the GitLab
 * stand-in, which names the projects and an orphan.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/media-types.js";
import type { Digest } from "../../src/core/digest.js";
import { DEFAULT_USERS, ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, pushTagHistory, type PushedManifest } from "../helpers/images.js";
import { credentialsFile, runCli } from "../helpers/run-cli.js";
import { createStorageTree, type StorageTree } from "../helpers/storage-tree.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Every manifest of the tree is padded to this many bytes, so its size is known by hand too. */
const MANIFEST_BYTES = 1000;
/** Layer sizes; `missing` is referenced but never written, `unreferenced` written but never referenced. */
const LAYERS: Record<string, number> = {
  base: 1000, cross: 20000, w1: 100, w0: 200, k1: 400, a1: 800, ay: 1600, t1: 3200, t0: 6400, g0: 12800, g1: 25600,
};

type Row = { name: string; bytes: number; keptBytes: number; freeableBytes: number; sharedBytes: number; [key: string]: unknown };
type UsageDocument = {
  total: Row; blobStore: Record<string, number>; repositories: Row[]; projects: Row[] | null; groups: Row[]; orphans: Row | null;
  settings: Record<string, unknown>;
};

/** [bytes, kept, freeable, shared] per row name. */
function numbers(rows: readonly Row[]): Record<string, number[]> {
  return Object.fromEntries(rows.map((row) => [row.name, [row.bytes, row.keptBytes, row.freeableBytes, row.sharedBytes]]));
}

function parse(stdout: string): UsageDocument {
  return JSON.parse(stdout) as UsageDocument;
}

describe("usage on a storage tree", () => {
  let tree: StorageTree;
  let config: string;
  const layer: Record<string, Digest> = {};

  /** A manifest over `layers`, padded to MANIFEST_BYTES, pushed (and tagged) `ageMs` ago. */
  async function push(repository: string, label: string, layers: string[], options: { tag?: string; ageMs?: number } = {}): Promise<void> {
    const manifest = (pad: string): object => ({
      schemaVersion: 2, mediaType: MediaType.ociManifest,
      layers: layers.map((name) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer[name], size: LAYERS[name] ?? 7777 })),
      annotations: { label, pad },
    });
    const bare = JSON.stringify(manifest("")).length;
    await tree.push(repository, manifest("x".repeat(MANIFEST_BYTES - bare)), {
      linkedAt: Date.now() - (options.ageMs ?? 30 * DAY), ...(options.tag ? { tags: [options.tag] } : {}),
    });
  }

  beforeAll(async () => {
    tree = await createStorageTree();
    for (const [name, size] of Object.entries(LAYERS)) layer[name] = await tree.writeBlob(name.padEnd(size, "#"));
    layer.missing = "sha256:0000000000000000000000000000000000000000000000000000000000000000" as Digest;
    await tree.writeBlob("unreferenced".padEnd(51200, "#"));
    await push("acme/web", "W1", ["base", "w1", "missing"], { tag: "latest" });
    await push("acme/web", "W0", ["base", "w0"]);
    await push("acme/web/worker", "K1", ["base", "k1"], { tag: "main" });
    await push("acme/api", "A1", ["cross", "a1"], { tag: "v1" });
    await push("acme/api", "AY", ["ay"], { ageMs: HOUR });
    await push("other/tool", "T1", ["cross", "t1"], { tag: "latest" });
    await push("other/tool", "T0", ["t0", "a1"]);
    await push("acme/gone/app", "G1", ["g1"], { tag: "latest" });
    await push("acme/gone/app", "G0", ["g0"]);
    // Where the storage is comes from the registry config, as on an omnibus server.
    config = join(tree.root, "config.yml");
    await writeFile(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${tree.root}\n`);
  });

  afterAll(async () => {
    await tree?.cleanup();
  });

  it("--json: every row summed by hand, each blob once per row", async () => {
    const result = await runCli(["usage", "--registry-config", config, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = parse(result.stdout);
    // Manifests are 1000 bytes each. acme/web: W1 W0 + base w1 w0; kept W1 base w1; freeable W0 w0; shared base.
    expect(numbers(document.repositories)).toEqual({
      "acme/gone/app": [40400, 26600, 13800, 0],
      "other/tool": [32400, 24200, 7400, 20800],
      "acme/web": [3300, 2100, 1200, 1000],
      // AY is an hour old: kept by the default 24h, like the cleanup keeps it.
      "acme/api": [24400, 24400, 0, 20800],
      "acme/web/worker": [2400, 2400, 0, 1000],
    });
    expect(document.repositories.map((row) => row.name)).toEqual(["acme/gone/app", "other/tool", "acme/web", "acme/api", "acme/web/worker"]);
    // base counts once for acme; cross and a1 are shared with group other.
    expect(numbers(document.groups)).toEqual({ acme: [69500, 54500, 15000, 20800], other: [32400, 24200, 7400, 20800] });
    expect(numbers([document.total])).toEqual({ total: [81100, 58700, 22400, 0] });
    expect(document.blobStore).toEqual({ blobs: 21, bytes: 81100 + 51200, unreferencedBlobs: 1, unreferencedBytes: 51200 });
    expect([document.total.tags, document.total.manifests, document.total.candidates]).toEqual([5, 9, 3]);
    expect(document.projects).toBeNull();
    expect(document.orphans).toBeNull();
    expect(document.repositories.every((row) => row.project === null && row.orphan === null)).toBe(true);
    expect(document.settings).toMatchObject({ minAgeSeconds: 86400, top: null, gitlabServer: null, storage: { location: tree.root, driver: "filesystem" } });
  });

  it("--min-age 30m makes the hour-old untagged manifest freeable", async () => {
    const result = await runCli(["usage", "--registry-config", config, "--json", "--min-age", "30m"]);
    expect(result.code, result.stderr).toBe(0);
    expect(numbers(parse(result.stdout).repositories)["acme/api"]).toEqual([24400, 21800, 2600, 20800]);
  });

  it("text: tables sorted by what a cleanup frees, --top rows per level, and the total", async () => {
    const result = await runCli(["usage", "--registry-config", config, "--top", "2"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    const header = lines.findIndex((line) => line.startsWith("Repositories by space a cleanup would free (top 2 of 5)"));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(/^ {2}repository\s+tags\s+manifests\s+untagged\s+size\s+kept\s+freeable\s+shared$/);
    expect(lines[header + 2]).toMatch(/^ {2}acme\/gone\/app\s+1\s+2\s+1\s+39\.45 KiB\s+25\.98 KiB\s+13\.48 KiB\s+0 B$/);
    expect(lines[header + 3]).toMatch(/^ {2}other\/tool\s+/);
    expect(lines[header + 4]).toBe("");
    expect(result.stdout).toContain("Top-level groups by space a cleanup would free (all 2 of 2):");
    expect(result.stdout).toMatch(/^ {2}acme\s+4\s+4\s+7\s+2\s+67\.87 KiB\s+53\.22 KiB\s+14\.65 KiB\s+20\.31 KiB$/m);
    expect(result.stdout).toContain("Total: 5 repositories, 2 top-level groups; 5 tags, 9 manifests (3 untagged ones a cleanup deletes)");
    expect(result.stdout).toContain("size 79.20 KiB, kept 57.32 KiB, freeable 21.88 KiB");
    expect(result.stdout).not.toContain("Projects");
  });

  it("--top limits the JSON rows too; bad flags are exit 2, a metadata database exit 3", async () => {
    const top = parse((await runCli(["usage", "--registry-config", config, "--json", "--top", "1"])).stdout);
    expect([top.repositories.length, top.groups.length, top.settings.top]).toEqual([1, 1, 1]);
    const badTop = await runCli(["usage", "--registry-config", config, "--top", "-1"]);
    expect([badTop.code, badTop.stderr]).toEqual([2, expect.stringContaining('Invalid --top "-1"')]);
    const both = await runCli(["usage", "-p", tree.root, "--storage", "s3://bucket/registry"]);
    expect(both.code).toBe(2);
    const other = await createStorageTree();
    try {
      await other.lockfile("database-in-use");
      const refused = await runCli(["usage", "-p", other.root, "--registry-config", join(other.root, "none.yml")]);
      expect([refused.code, refused.stderr]).toEqual([3, expect.stringContaining("metadata database")]);
    } finally {
      await other.cleanup();
    }
  });
});

describe("usage on the real registry, with the GitLab stand-in", () => {
  let env: Environment;
  let token: string;
  /** Each image's bytes on disk: its manifest, config and layer. */
  const size = (m: PushedManifest): number => m.bytes.length + m.blobBytes;
  let old: PushedManifest;
  let latest: PushedManifest;
  let orphanOld: PushedManifest;
  let orphanLatest: PushedManifest;

  /** Not an administrator: sees group/project only. */
  const VIEWER = { username: "viewer", secret: "glpat-viewer-read-api" };
  const storageArgs = (): string[] => ["-p", env.registry.storageRoot, "--registry-config", env.registry.configPath];

  beforeAll(async () => {
    env = await startEnvironment({
      users: [...DEFAULT_USERS, { username: VIEWER.username, password: "viewer-password", tokens: [{ token: VIEWER.secret, scopes: ["read_api"] }] }],
      projects: [
        { path: "group/project", members: { [VIEWER.username]: "developer" } }, { path: "other/tool", members: {} }, { path: "ghost/app", members: {} },
      ],
    });
    token = await credentialsFile(env, ROOT_TOKEN);
    const ctx = env.pushContext(ROOT);
    [old, latest] = (await pushTagHistory(ctx, "group/project", "latest", 2, { seed: 10 })) as [PushedManifest, PushedManifest];
    // The same image in a second repository of the project: every blob of it shared, once for the project.
    await pushImage(ctx, "group/project/worker", { seed: 11, tag: "main" });
    [orphanOld, orphanLatest] = (await pushTagHistory(ctx, "ghost/app", "latest", 2, { seed: 40 })) as [PushedManifest, PushedManifest];
    // Shared across groups: other/tool holds ghost/app's latest image too.
    await pushImage(ctx, "other/tool", { seed: 41, tag: "v1" });
    env.gitlab.removeProject("ghost/app");
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("counts what the registry stored, shared images once per project and group", async () => {
    const result = await runCli(["usage", ...storageArgs(), "--min-age", "0", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = parse(result.stdout);
    expect(numbers(document.repositories)).toEqual({
      "ghost/app": [size(orphanOld) + size(orphanLatest), size(orphanLatest), size(orphanOld), size(orphanLatest)],
      "group/project": [size(old) + size(latest), size(latest), size(old), size(latest)],
      "group/project/worker": [size(latest), size(latest), 0, size(latest)],
      "other/tool": [size(orphanLatest), size(orphanLatest), 0, size(orphanLatest)],
    });
    expect(numbers(document.groups)).toEqual({
      group: [size(old) + size(latest), size(latest), size(old), 0],
      ghost: [size(orphanOld) + size(orphanLatest), size(orphanLatest), size(orphanOld), size(orphanLatest)],
      other: [size(orphanLatest), size(orphanLatest), 0, size(orphanLatest)],
    });
    expect(document.total.freeableBytes).toBe(size(old) + size(orphanOld));
    expect(document.blobStore.bytes).toBe(document.total.bytes + document.blobStore.unreferencedBytes!);
  });

  it("with the default --min-age everything just pushed counts as kept", async () => {
    const document = parse((await runCli(["usage", ...storageArgs(), "--json"])).stdout);
    expect([document.total.freeableBytes, document.total.candidates]).toEqual([0, 0]);
    expect(document.total.keptBytes).toBe(document.total.bytes);
  });

  it("--gitlab names each repository's project, rolls up per project and flags the orphan", async () => {
    const args = ["usage", ...storageArgs(), "--min-age", "0", "--gitlab", env.gitlab.url, "-k", "-c", token];
    const result = await runCli([...args, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = parse(result.stdout);
    const owner = Object.fromEntries(document.repositories.map((row) => [row.name, [row.project, row.orphan]]));
    expect(owner).toEqual({
      "ghost/app": [null, true], "group/project": ["group/project", false],
      "group/project/worker": ["group/project", false], "other/tool": ["other/tool", false],
    });
    expect(numbers(document.projects!)).toEqual({
      "group/project": [size(old) + size(latest), size(latest), size(old), 0],
      "other/tool": [size(orphanLatest), size(orphanLatest), 0, size(orphanLatest)],
    });
    expect(numbers([document.orphans!])).toEqual({
      "without a project": [size(orphanOld) + size(orphanLatest), size(orphanLatest), size(orphanOld), size(orphanLatest)],
    });
    const text = await runCli(args);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}ghost\/app \(orphan\)\s+1\s+2\s+1\s/m);
    expect(text.stdout).toContain("Projects by space a cleanup would free (all 2 of 2):");
    expect(text.stdout).toContain("Orphans (no GitLab project owns them): 1 repository");
    expect(text.stdout).toContain("Total: 4 repositories, 2 projects, 3 top-level groups");
  });

  it("--gitlab with a token that cannot see every project names no orphan", async () => {
    const viewer = await credentialsFile(env, VIEWER, "viewer");
    const args = ["usage", ...storageArgs(), "--min-age", "0", "--gitlab", env.gitlab.url, "-k", "-c", viewer];
    const result = await runCli([...args, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("not an administrator");
    const document = parse(result.stdout);
    const owner = Object.fromEntries(document.repositories.map((row) => [row.name, [row.project, row.orphan]]));
    expect(owner).toEqual({
      "ghost/app": [null, null], "group/project": ["group/project", false],
      "group/project/worker": ["group/project", false], "other/tool": [null, null],
    });
    expect(document.projects!.map((row) => row.name)).toEqual(["group/project"]);
    expect(document.orphans).toBeNull();
    const text = await runCli(args);
    expect(text.stdout).toMatch(/^ {2}other\/tool \(no project visible\)\s/m);
    expect(text.stdout).toContain("Without a project visible to this token: 2 repositories");
    expect(text.stdout).not.toContain("orphan)");
  });

  it("--gitlab with a password instead of a token is exit 2, saying what to give", async () => {
    const password = await credentialsFile(env, ROOT, "password");
    const result = await runCli(["usage", ...storageArgs(), "--gitlab", env.gitlab.url, "-k", "-c", password]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("personal access token");
    expect(result.stdout).toBe("");
  });
});
