/**
 * The whole cleanup, end to end: the built CLI against the real registry and the GitLab stand-in.
 * Exactly the unreferenced untagged manifests go; after garbage collection every kept image
 * (each platform of each multi-arch image) still copies completely with skopeo.
 */
import { access, mkdtemp, readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import {
  pushImage, pushIndex, pushMultiArch, pushReferrer, pushTagHistory, tagManifest, type PushedManifest,
} from "../helpers/images.js";
import { garbageCollect } from "../helpers/registry-server.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { skopeoCopyAll } from "../helpers/skopeo.js";

interface Expected {
  repo: string;
  digest: string;
}

let env: Environment;
let creds: string;
/** Manifests the cleanup must delete, and manifests it must keep (with a tag or digest to pull). */
const doomed: Expected[] = [];
const kept: Array<Expected & { ref: string }> = [];

function keep(repo: string, manifest: PushedManifest, ref = `@${manifest.digest}`): void {
  kept.push({ repo, digest: manifest.digest, ref: ref.startsWith("@") ? ref : `:${ref}` });
}

function revisionLink(repo: string, digest: string): string {
  return join(env.registry.storageRoot, "docker/registry/v2/repositories", repo, "_manifests/revisions/sha256",
    digest.slice("sha256:".length), "link");
}

function reportPath(): string {
  return join(env.dir, "report.json");
}

/** Bytes of every blob `data` file: what garbage collection frees shows up here. */
async function blobBytes(root: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else if (entry.name === "data") total += (await stat(join(dir, entry.name))).size;
    }
  };
  await walk(join(root, "docker/registry/v2/blobs"));
  return total;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function seedHistory(): Promise<void> {
  const ctx = env.pushContext(ROOT);
  // A tag re-pushed three times: the first two manifests are untagged now.
  const app = await pushTagHistory(ctx, "group/project", "latest", 3, { seed: 100, layers: 2 });
  doomed.push(...app.slice(0, 2).map((m) => ({ repo: "group/project", digest: m.digest })));
  keep("group/project", app[2]!, "latest");
  // One digest under two tags.
  const twice = await pushImage(ctx, "group/project", { seed: 200, tag: "stable" });
  await tagManifest(ctx, "group/project", "v1.0", twice);
  keep("group/project", twice, "stable");
  // A tagged OCI index and a tagged Docker manifest list: their platform manifests are untagged.
  const oci = await pushMultiArch(ctx, "group/project/multiarch", { seed: 300, tag: "v1", format: "oci" });
  const docker = await pushMultiArch(ctx, "group/project/multiarch", { seed: 400, tag: "v2", format: "docker" });
  for (const pushed of [oci, docker]) {
    keep("group/project/multiarch", pushed.index, pushed === oci ? "v1" : "v2");
    for (const child of pushed.children) keep("group/project/multiarch", child);
  }
  // An old untagged index whose children only it uses: all three go.
  const old = await pushMultiArch(ctx, "group/project/multiarch", { seed: 500, format: "oci" });
  doomed.push(...[old.index, ...old.children].map((m) => ({ repo: "group/project/multiarch", digest: m.digest })));
  // An untagged index sharing a child with a kept index: the index goes, the shared child stays.
  const sharing = await pushIndex(ctx, "group/project/multiarch", [oci.children[0]!]);
  doomed.push({ repo: "group/project/multiarch", digest: sharing.digest });
  // An untagged signature of a tagged image stays; a signature of a doomed image goes.
  keep("group/project", await pushReferrer(ctx, "group/project", app[2]!, { seed: 1 }));
  doomed.push({ repo: "group/project", digest: (await pushReferrer(ctx, "group/project", app[0]!, { seed: 2 })).digest });
  // A deep name: group/sub/project/image.
  const deep = await pushTagHistory(ctx, "group/sub/project/image", "main", 2, { seed: 600 });
  doomed.push({ repo: "group/sub/project/image", digest: deep[0]!.digest });
  keep("group/sub/project/image", deep[1]!, "main");
  // A repository whose project is then deleted in GitLab: an orphan, never touched.
  const ghost = await pushTagHistory(ctx, "ghost/app", "latest", 2, { seed: 700 });
  keep("ghost/app", ghost[0]!);
  keep("ghost/app", ghost[1]!, "latest");
  env.gitlab.removeProject("ghost/app");
}

function deletionLines(result: CliResult, verb: "Deleted" | "Would delete"): string[] {
  return result.stdout.split("\n").filter((line) => line.startsWith(`${verb} image `)).sort();
}

function expectedLines(verb: string): string[] {
  return doomed.map((d) => `${verb} image ${d.digest} in repository ${d.repo}`).sort();
}

beforeAll(async () => {
  env = await startEnvironment({
    projects: [
      { path: "group/project", members: {} },
      { path: "group/sub/project", members: {} },
      { path: "ghost/app", members: {} },
    ],
  });
  // A token, so the REST API can tell orphan repositories from ones without permission.
  creds = await credentialsFile(env, ROOT_TOKEN);
  await seedHistory();
});

afterAll(async () => {
  await env?.stop();
});

describe("cleanup against the real registry", () => {
  it("keeps everything with the default 24h grace period", async () => {
    const result = await runCli([...environmentArgs(env, creds), "-n"]);
    expect(result.stderr).not.toContain("Error");
    expect(result.code).toBe(0);
    expect(deletionLines(result, "Would delete")).toEqual([]);
    expect(result.stdout).toMatch(/younger than 1d\s+\d+/);
  });

  it("dry run lists exactly the unreferenced untagged manifests and deletes nothing", async () => {
    const result = await runCli([...environmentArgs(env, creds), "-n", "--min-age", "0"]);
    expect(result.code, result.stderr).toBe(0);
    expect(deletionLines(result, "Would delete")).toEqual(expectedLines("Would delete"));
    for (const d of doomed) expect(await exists(revisionLink(d.repo, d.digest))).toBe(true);
    // An orphan is in the section after the summary (a line of its own on stderr only with -v).
    expect(result.stdout).toMatch(/^Orphan repositories: 1, left untouched/m);
    expect(result.stdout).toMatch(/^ {2}ghost\/app +[\d.]+ KiB +0 B +\d{4}-\d\d-\d\d +2 +1$/m);
  });

  it("deletes exactly those, reports them, and names the follow-up", async () => {
    const result = await runCli([...environmentArgs(env, creds), "--min-age", "0", "--output", reportPath()]);
    expect(result.code, result.stderr).toBe(0);
    expect(deletionLines(result, "Deleted")).toEqual(expectedLines("Deleted"));
    for (const d of doomed) expect(await exists(revisionLink(d.repo, d.digest)), d.digest).toBe(false);
    for (const k of kept) expect(await exists(revisionLink(k.repo, k.digest)), `${k.repo}@${k.digest}`).toBe(true);
    expect(result.stdout).toContain("sudo gitlab-ctl registry-garbage-collect");
    expect(result.stdout).toMatch(new RegExp(`Deleted\\s+${doomed.length}\\b`));
    expect(result.stdout).toContain(join(env.dir, "journal.jsonl"));
  });

  it("a second run finds nothing more to delete", async () => {
    const result = await runCli([...environmentArgs(env, creds), "--min-age", "0"]);
    expect(result.code, result.stderr).toBe(0);
    expect(deletionLines(result, "Deleted")).toEqual([]);
  });

  it("after garbage collection every kept image still copies completely", async () => {
    const estimate = JSON.parse(await readFile(reportPath(), "utf8")).space;
    const before = await blobBytes(env.registry.storageRoot);
    expect(before).toBe(estimate.before.bytes);
    await env.registry.stop();
    const output = await garbageCollect(env.registry.configPath);
    expect(output).toContain("blob eligible for deletion");
    await env.registry.restart();
    // The estimate made before deleting is exactly what garbage collection freed.
    expect(before - (await blobBytes(env.registry.storageRoot))).toBe(estimate.freedByRun.bytes + estimate.alreadyUnreferenced.bytes);
    expect(estimate.freedByRun.bytes).toBeGreaterThan(0);
    const target = await mkdtemp(join(env.dir, "pulled-"));
    // Orphans cannot be pulled (no project, no token); they were checked on disk above.
    for (const [index, k] of kept.filter((k) => !k.repo.startsWith("ghost/")).entries()) {
      const ref = `docker://${new URL(env.registry.url).host}/${k.repo}${k.ref}`;
      await expect(skopeoCopyAll(ref, `${ROOT.username}:${ROOT.secret}`, join(target, String(index))), ref).resolves.toBeUndefined();
    }
  });
});
