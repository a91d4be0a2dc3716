/**
 * Orphans end to end (real registry, GitLab stand-in, built CLI): repositories whose project was
 * deleted are reported with what they hold alone and share and when they were last pushed, and
 * a steady state of orphans alone exits 0 for an administrator signing in with a password: the
 * `registry:catalog:*` scope GitLab grants administrators only tells orphans apart. A user who is
 * not an administrator keeps the documented exit 4.
 */
import { stat, utimes } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blobDataPath, revisionLinkPath } from "../../src/storage/layout.js";
import type { Digest } from "../../src/core/digest.js";
import { DEV, ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, pushTagHistory, type PushedManifest } from "../helpers/images.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let admin: string[];
let maintainer: string[];
let ghost: PushedManifest[];
let sharedLayer: string;
const PUSHED = new Date("2024-05-06T07:08:09Z");

async function sizeOf(digests: Iterable<string>): Promise<number> {
  let total = 0;
  for (const digest of new Set(digests)) total += (await stat(blobDataPath(env.registry.storageRoot, digest as Digest))).size;
  return total;
}

beforeAll(async () => {
  env = await startEnvironment({
    projects: [
      { path: "live/app", members: { dev: "maintainer" } },
      { path: "ghost/app", members: { dev: "maintainer" } },
      { path: "ghost/small", members: {} },
    ],
  });
  const ctx = env.pushContext();
  // live/app: "latest" pushed twice, so one untagged manifest for the first run to delete.
  const live = await pushTagHistory(ctx, "live/app", "latest", 2, { seed: 1 });
  sharedLayer = live[1]!.blobDigests.at(-1)!;
  // ghost/app: an image built on live's current layer, and one of its own, both untagged.
  ghost = [await pushImage(ctx, "ghost/app", { seed: 2, layers: 2 }), await pushImage(ctx, "ghost/app", { seed: 10, layers: 1 })];
  await pushImage(ctx, "ghost/small", { seed: 20, layerSize: 64 });
  // Pushed long ago: the newest revision link dates the orphan.
  for (const pushed of ghost) await utimes(revisionLinkPath(env.registry.storageRoot, "ghost/app", pushed.digest as Digest), PUSHED, PUSHED);
  env.gitlab.removeProject("ghost/app");
  env.gitlab.removeProject("ghost/small");
  admin = [...environmentArgs(env, await credentialsFile(env, ROOT, "root")), "--min-age", "0"];
  maintainer = [...environmentArgs(env, await credentialsFile(env, DEV, "dev")), "--min-age", "0"];
});

afterAll(async () => {
  await env?.stop();
});

describe("orphans", () => {
  it("an administrator's password run deletes what it may and reports the orphans with sizes and last push", async () => {
    const result = await runCli(admin);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Deleted image sha256:\S+ in repository live\/app$/m);
    expect(result.stdout).toMatch(/^Orphan repositories: 2, left untouched \(no GitLab project owns them/m);
    const own = await sizeOf([...ghost.flatMap((p) => [p.digest, ...p.blobDigests])].filter((d) => d !== sharedLayer));
    const row = new RegExp(`^ {2}ghost/app +${escape(format(own))} +${escape(format(await sizeOf([sharedLayer])))} +2024-05-06 +2 +0$`, "m");
    expect(result.stdout).toMatch(row);
    expect(result.stdout).toMatch(/^ {2}ghost\/small +/m);
    expect(result.stdout.indexOf("ghost/app ")).toBeLessThan(result.stdout.indexOf("ghost/small "));
    expect(result.stdout).toContain("sudo gitlab-ctl registry-garbage-collect -m");
    // One line per orphan only with -v: the section says it.
    expect(result.stderr).not.toContain("Skipped repository ghost/");
    for (const pushed of ghost) expect((await stat(revisionLinkPath(env.registry.storageRoot, "ghost/app", pushed.digest as Digest))).isFile()).toBe(true);
  });

  it("a second run with the password, where only orphans are left, exits 0 (steady state)", async () => {
    env.gitlab.resetStats();
    const result = await runCli([...admin, "-v"]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).not.toContain("Nothing can be deleted with these credentials");
    expect(result.stdout).toMatch(/^Orphan repositories: 2, /m);
    expect(result.stderr).toMatch(/Skipped repository ghost\/app \(2 untagged manifests, .*, orphan\): GitLab knows no project/);
    // Asked once, with the one scope GitLab grants administrators only.
    expect(env.gitlab.scopeLog.filter((scopes) => scopes.includes("registry:catalog:*"))).toEqual([["registry:catalog:*"]]);
  });

  it("--json carries every orphan with its fields", async () => {
    const result = await runCli([...admin, "-n", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.summary.administrator).toBe(true);
    expect(document.orphans.map((o: { name: string }) => o.name)).toEqual(["ghost/app", "ghost/small"]);
    expect(document.orphans[0]).toEqual({
      name: "ghost/app",
      uniqueBytes: await sizeOf([...ghost.flatMap((p) => [p.digest, ...p.blobDigests])].filter((d) => d !== sharedLayer)),
      sharedBytes: await sizeOf([sharedLayer]),
      lastPush: PUSHED.toISOString(), manifests: 2, tags: 0, candidates: 2,
    });
    expect(document.orphans[1]).toMatchObject({ name: "ghost/small", sharedBytes: 0, manifests: 1, tags: 0 });
    expect(document.skippedRepositories.map((s: { reason: string }) => s.reason)).toEqual(["orphan", "orphan"]);
  });

  it("a user who is not an administrator cannot tell orphans apart: no permission, exit 4, as documented", async () => {
    const result = await runCli(maintainer);
    expect(result.code, result.stdout + result.stderr).toBe(4);
    expect(result.stderr).toMatch(/Skipped repository ghost\/app \(2 untagged manifests, .*, no permission\): the token GitLab issued lacks delete/);
    expect(result.stdout).toContain("Nothing can be deleted with these credentials");
    expect(result.stdout).not.toContain("Orphan repositories");
  });

  it("a project whose container registry is disabled: an admin's token names it, and nothing asks for other credentials", async () => {
    await pushImage(env.pushContext(), "live/app", { seed: 30 });
    env.gitlab.addProject({ ...env.gitlab.getProject("live/app")!, containerRegistryEnabled: false });
    try {
      const token = [...environmentArgs(env, await credentialsFile(env, ROOT_TOKEN, "root-token")), "--min-age", "0", "-n"];
      const result = await runCli(token);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stderr).toMatch(/Skipped repository live\/app \(1 untagged manifests, .*, no permission\): project live\/app exists, but GitLab grants even an administrator no delete there: its container registry is disabled/);
      expect(result.stdout).toMatch(/^Orphan repositories: 2, /m);
      expect(result.stdout).not.toContain("Nothing can be deleted with these credentials");
    } finally {
      env.gitlab.addProject({ ...env.gitlab.getProject("live/app")!, containerRegistryEnabled: true });
    }
  });
});

function format(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(2)} KiB`;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
