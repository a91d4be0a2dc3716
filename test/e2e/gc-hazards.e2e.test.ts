/**
 * Files the real garbage collection (docker-registry 2.8.2) aborts on: a corrupt revision link,
 * a repository directory with an uppercase name, an OCI artifact manifest. The follow-up names
 * each with the collector's own error and a fix; `--gc` refuses to start it (exit 3, the
 * deletions made) unless `--force-gc`. And a repository whose `_manifests/tags` holds a tag
 * directory without current/link and a file is skipped for that reason, not as "-p wrong".
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDigest, type Digest } from "../../src/core/digest.js";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { REGISTRY_BINARY } from "../helpers/registry-server.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";
import { blobDataPath, repositoryDir, revisionLinkPath, tagsDir } from "../helpers/storage-tree.js";

const execFileAsync = promisify(execFile);

let env: Environment;
let args: string[];
let corruptLink: string;
let upperDir: string;
let artifactBlob: string;
let marker: string;

const root = (): string => env.registry.storageRoot;

async function history(name: string, count: number, seed: number): Promise<Digest[]> {
  const pushed = await pushTagHistory(env.pushContext(), name, "latest", count, { seed, layerSize: 16 * 1024 });
  return pushed.map((m) => parseDigest(m.digest)!);
}

/** What the real collector says about this storage, without changing it. */
async function collectorDryRun(): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(REGISTRY_BINARY, ["garbage-collect", "--dry-run", env.registry.configPath], { maxBuffer: 64 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const { code, stdout = "", stderr = "" } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? 1, output: stdout + stderr };
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/app", members: {} }, { path: "group/tags", members: {} }, { path: "group/links", members: {} }] });
  await history("group/app", 3, 300);
  // A copy under a name the registry's grammar rejects: the API cannot reach it, garbage collection walks into it.
  upperDir = repositoryDir(root(), "group/UPPER");
  await cp(repositoryDir(root(), "group/app"), upperDir, { recursive: true });

  const [corrupt] = await history("group/links", 3, 310);
  corruptLink = revisionLinkPath(root(), "group/links", corrupt!);
  await writeFile(corruptLink, "garbage");

  // An OCI artifact manifest (OCI 1.1-rc), written as the registry stores any blob and link.
  const artifact = Buffer.from(JSON.stringify({ mediaType: "application/vnd.oci.artifact.manifest.v1+json", artifactType: "application/x-sbom", blobs: [] }));
  const artifactDigest = parseDigest(`sha256:${createHash("sha256").update(artifact).digest("hex")}`)!;
  artifactBlob = blobDataPath(root(), artifactDigest);
  await mkdir(join(artifactBlob, ".."), { recursive: true });
  await writeFile(artifactBlob, artifact);
  await mkdir(join(revisionLinkPath(root(), "group/app", artifactDigest), ".."), { recursive: true });
  await writeFile(revisionLinkPath(root(), "group/app", artifactDigest), artifactDigest);

  const [, second] = await history("group/tags", 3, 320);
  const half = join(tagsDir(root(), "group/tags"), "half", "index", "sha256", second!.slice("sha256:".length));
  await mkdir(half, { recursive: true });
  await writeFile(join(half, "link"), second!);
  await writeFile(join(tagsDir(root(), "group/tags"), "README"), "not a tag\n");

  args = [...environmentArgs(env, await credentialsFile(env, ROOT)), "--min-age", "0"];
  marker = join(env.dir, "gc-ran");
});

afterAll(async () => {
  await env?.stop();
});

describe("the real garbage collection on this storage", () => {
  it("aborts, naming what the follow-up will quote", async () => {
    const { code, output } = await collectorDryRun();
    expect(code).not.toBe(0);
    expect(output).toMatch(/failed to garbage collect: failed to mark: .*(failed to parse repo name group\/UPPER: invalid reference format|invalid checksum digest format|unrecognized manifest schema version 0)/);
  });
});

describe("a dry run", () => {
  let stdout: string;
  let stderr: string;
  let document: Record<string, unknown> & { garbageCollectionHazards: Array<Record<string, unknown>>; skippedRepositories: Array<Record<string, unknown>> };

  beforeAll(async () => {
    const report = join(env.dir, "dry-run.json");
    const result = await runCli([...args, "-n", "--output", report]);
    expect(result.code, result.stderr).toBe(0);
    stdout = result.stdout;
    stderr = result.stderr;
    document = JSON.parse(await readFile(report, "utf8"));
  });

  it("says garbage collection will fail on the corrupt link and the uppercase directory, why, and how to fix each", () => {
    expect(stdout).toContain(`Garbage collection will fail on ${corruptLink} because invalid checksum digest format`);
    expect(stdout).toContain(`  Fix: printf '%s' sha256:`);
    expect(stdout).toContain(`Garbage collection will fail on ${upperDir} because failed to parse repo name group/UPPER: invalid reference format`);
    expect(stdout).toContain(`&& mv ${upperDir} ${join(root(), "registry-quarantine/repositories/group/UPPER")}`);
    expect(stdout).toContain(`Garbage collection will fail on ${artifactBlob} because failed to retrieve manifest for digest sha256:`);
    expect(stdout).toContain("unrecognized manifest schema version 0");
  });

  it("writes the same hazards into the JSON document", () => {
    const paths = document.garbageCollectionHazards.map((h) => h.path);
    expect(paths).toEqual(expect.arrayContaining([corruptLink, upperDir, artifactBlob]));
    expect(document.garbageCollectionHazards.find((h) => h.path === upperDir)).toMatchObject({
      kind: "repository-name", repository: "group/UPPER", onlyWithDeleteUntagged: false, fix: expect.stringContaining("mv "),
    });
  });

  it("skips group/tags naming the tag directory without current/link and the file, not a wrong -p", () => {
    const line = stderr.split("\n").find((l) => l.startsWith("Skipped repository group/tags"));
    expect(line, stderr).toContain("stray entries in its tags");
    expect(line).toContain('Tag directory "half" of group/tags has no current/link (an interrupted push or a half-deleted tag)');
    expect(line).toContain('"README" in the tags of group/tags is a file, not a tag directory');
    expect(line).not.toContain("is -p the storage");
    expect(document.skippedRepositories).toEqual(expect.arrayContaining([expect.objectContaining({ name: "group/tags", reason: "tags-damaged" })]));
  });
});

describe("a real run with --gc", () => {
  it("deletes, then refuses to start garbage collection with exit 3, naming the files", async () => {
    const result = await runCli([...args, "--gc", "--yes", "--gc-command", `/usr/bin/touch ${marker}`]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/^Deleted image sha256:\S+ in repository group\/app$/m);
    expect(result.stdout).toContain(`Garbage collection will fail on ${corruptLink} because`);
    expect(result.stdout).not.toContain("Running garbage collection next");
    expect(result.stderr).toContain(`Garbage collection (/usr/bin/touch ${marker}) was not started: it would fail on these 3 files:`);
    expect(result.stderr).toContain(`${upperDir} (failed to parse repo name group/UPPER: invalid reference format`);
    expect(result.stderr).toContain("The deletions above were made; only garbage collection was refused.");
    expect(result.stderr).toContain("--force-gc");
    expect(await exists(marker)).toBe(false);
    // The real run skips group/tags for the same named reason.
    const skipped = result.stderr.split("\n").find((l) => l.startsWith("Skipped repository group/tags"));
    expect(skipped, result.stderr).toContain('Tag directory "half" of group/tags has no current/link');
    expect(skipped).not.toContain("is -p the storage");
  });

  it("runs it with --force-gc", async () => {
    const result = await runCli([...args, "--gc", "--force-gc", "--yes", "--gc-command", `/usr/bin/touch ${marker}`]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Running garbage collection next (--gc).");
    expect(await exists(marker)).toBe(true);
  });

  it("refuses --force-gc without --gc", async () => {
    const result = await runCli([...args, "--force-gc"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--force-gc goes with --gc");
  });
});
