/**
 * The whole cleanup of a registry on S3, end to end: the real registry on its `s3` driver over a
 * real S3 server (Ceph's RADOS gateway), the built CLI told nothing but the registry's config.
 * Exactly the unreferenced untagged manifests go (their revision link objects, nothing else);
 * after garbage collection every kept image still copies completely with skopeo. Then the same
 * history under a `rootdirectory` prefix, keys from the environment, and `--storage s3://…`.
 */
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type S3Environment } from "../helpers/environment.js";
import { pushImage, pushIndex, pushMultiArch, pushReferrer, pushTagHistory, type PushedManifest } from "../helpers/images.js";
import { garbageCollect } from "../helpers/registry-server.js";
import { linesStarting } from "../helpers/registry-state.js";
import { credentialsFile, runCli, type CliResult } from "../helpers/run-cli.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";
import { skopeoCopyAll } from "../helpers/skopeo.js";

const APP = "group/project";
const MULTI = "group/project/multiarch";
const NEVER_TAGGED = "group/project/never-tagged";
const V2 = "docker/registry/v2";

interface Manifest {
  repo: string;
  digest: string;
}
/** A kept manifest and how to pull it: `:tag` or `@digest`. */
type Kept = Manifest & { ref: string };
interface History {
  doomed: Manifest[];
  kept: Kept[];
  /** The platform manifests of each tagged index, by tag. */
  platforms: Record<string, string[]>;
}

let s3: S3Server;
/** Keys in the registry config, storage at the bucket's top. */
let top: S3Environment;
/** Keys only in the registry's environment, storage under `/registry`. */
let prefixed: S3Environment;
let history: History;

const at = (repo: string, m: PushedManifest): Manifest => ({ repo, digest: m.digest });
const keptAt = (repo: string, m: PushedManifest, tag?: string): Kept => ({ ...at(repo, m), ref: tag ? `:${tag}` : `@${m.digest}` });

/**
 * The same pushes (seeded, so the same digests) into any registry: re-pushed tags, a tagged OCI
 * index and Docker manifest list with untagged children, old untagged ones whose children only
 * they use, an index sharing a kept child, signatures of a kept and of a doomed image, and
 * untagged images nothing names (one in a repository that never had a tag).
 */
async function seed(env: S3Environment): Promise<History> {
  const ctx = env.pushContext(ROOT);
  const doomed: Manifest[] = [];
  const kept: Kept[] = [];
  const app = await pushTagHistory(ctx, APP, "latest", 3, { seed: 100, layers: 2 });
  doomed.push(...app.slice(0, 2).map((m) => at(APP, m)));
  kept.push(keptAt(APP, app[2]!, "latest"));
  const oci = await pushMultiArch(ctx, MULTI, { seed: 300, tag: "v1", format: "oci" });
  const list = await pushMultiArch(ctx, MULTI, { seed: 400, tag: "v2", format: "docker" });
  const platforms = { v1: oci.children.map((m) => m.digest), v2: list.children.map((m) => m.digest) };
  for (const [pushed, tag] of [[oci, "v1"], [list, "v2"]] as const) {
    kept.push(keptAt(MULTI, pushed.index, tag), ...pushed.children.map((child) => keptAt(MULTI, child)));
  }
  for (const [seedValue, format] of [[500, "oci"], [600, "docker"]] as const) {
    const old = await pushMultiArch(ctx, MULTI, { seed: seedValue, format });
    doomed.push(...[old.index, ...old.children].map((m) => at(MULTI, m)));
  }
  doomed.push(at(MULTI, await pushIndex(ctx, MULTI, [oci.children[0]!])));
  kept.push(keptAt(APP, await pushReferrer(ctx, APP, app[2]!, { seed: 1 })));
  doomed.push(at(APP, await pushReferrer(ctx, APP, app[0]!, { seed: 2 })));
  doomed.push(at(APP, await pushImage(ctx, APP, { seed: 700, format: "oci" })));
  doomed.push(at(NEVER_TAGGED, await pushImage(ctx, NEVER_TAGGED, { seed: 800 })));
  return { doomed, kept, platforms };
}

/** The bucket key of a revision link, as the registry's s3 driver writes it. */
function revisionKey(root: string, { repo, digest }: Manifest): string {
  return `${root}${V2}/repositories/${repo}/_manifests/revisions/sha256/${digest.slice("sha256:".length)}/link`;
}

/** Every revision link key in the bucket below `root`, sorted. */
async function revisionKeys(bucket: string, root: string): Promise<string[]> {
  const keys = await s3.listKeys(bucket, `${root}${V2}/repositories/`);
  return keys.map(({ key }) => key).filter((key) => /\/_manifests\/revisions\/sha256\/[0-9a-f]{64}\/link$/.test(key)).sort();
}

/** Total size of the blob `data` objects: what garbage collection frees shows up here. */
async function blobBytes(bucket: string, root: string): Promise<number> {
  const keys = await s3.listKeys(bucket, `${root}${V2}/blobs/`);
  return keys.filter(({ key }) => key.endsWith("/data")).reduce((sum, { size }) => sum + size, 0);
}

function expectedLines(verb: string, doomed: Manifest[] = history.doomed): string[] {
  return doomed.map((d) => `${verb} image ${d.digest} in repository ${d.repo}`).sort();
}

/** -g, -r, -c and --journal for `env`; the storage flags are each test's business. */
async function serverArgs(env: S3Environment): Promise<string[]> {
  const journal = join(await mkdtemp(join(env.dir, "journal-")), "journal.jsonl");
  return ["-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", await credentialsFile(env, ROOT), "--journal", journal, "--min-age", "0"];
}

/** The CLI's environment for keys from the environment; no instance metadata lookups. */
function keysInEnvironment(): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, AWS_EC2_METADATA_DISABLED: "true" };
}

function show(result: CliResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

beforeAll(async () => {
  s3 = await startS3Server();
  top = await startEnvironment({ s3: { server: s3, bucket: "registry" } });
  prefixed = await startEnvironment({ s3: { server: s3, bucket: "prefixed", rootDirectory: "/registry", credentialsInConfig: false } });
  history = await seed(top);
  expect(await seed(prefixed)).toEqual(history);
});

afterAll(async () => {
  await top?.stop();
  await prefixed?.stop();
  await s3?.stop();
});

describe("a registry on S3, told only its config", () => {
  let linksBefore: string[];
  let report: string;

  beforeAll(async () => {
    linksBefore = await revisionKeys("registry", "");
    report = join(top.dir, "report.json");
  });

  it("dry run lists exactly the unreferenced untagged manifests, names the bucket and the keys' source, deletes nothing", async () => {
    const result = await runCli([...(await serverArgs(top)), "--registry-config", top.registry.configPath, "-n"]);
    expect(result.code, show(result)).toBe(0);
    expect(linesStarting(result.stdout, "Would delete image "), show(result)).toEqual(expectedLines("Would delete"));
    expect(result.stdout).toMatch(/^ {2}Storage +s3:\/\/registry\/ \(credentials from the registry config \(accesskey and secretkey\)\)$/m);
    expect(result.stdout).toMatch(new RegExp(`Would delete\\s+${history.doomed.length}\\b`));
    expect(await revisionKeys("registry", "")).toEqual(linksBefore);
  });

  it("deletes exactly those: their revision link objects go, every other key stays", async () => {
    const result = await runCli([...(await serverArgs(top)), "--registry-config", top.registry.configPath, "--output", report]);
    expect(result.code, show(result)).toBe(0);
    expect(linesStarting(result.stdout, "Deleted image "), show(result)).toEqual(expectedLines("Deleted"));
    const doomedKeys = history.doomed.map((d) => revisionKey("", d));
    expect(await revisionKeys("registry", "")).toEqual(linksBefore.filter((key) => !doomedKeys.includes(key)));
    for (const k of history.kept) expect(linksBefore, `${k.repo}@${k.digest}`).toContain(revisionKey("", k));
    expect(result.stdout).toContain("sudo gitlab-ctl registry-garbage-collect");
    const settings = (JSON.parse(await readFile(report, "utf8")) as { settings: { storage: unknown } }).settings;
    expect(settings.storage).toEqual({ location: "s3://registry/", driver: "s3", credentials: "the registry config (accesskey and secretkey)" });
    expect(await readFile(report, "utf8")).not.toContain(s3.secretKey);
  });

  it("after garbage collection every kept image copies completely, every platform of each index", async () => {
    const estimate = (JSON.parse(await readFile(report, "utf8")) as { space: Record<string, { bytes: number }> }).space;
    const before = await blobBytes("registry", "");
    expect(before).toBe(estimate.before!.bytes);
    await top.registry.stop();
    try {
      expect(await garbageCollect(top.registry.configPath, top.registry.env)).toContain("blob eligible for deletion");
    } finally {
      await top.registry.restart();
    }
    // The estimate made before deleting is exactly what garbage collection freed from the bucket.
    expect(before - (await blobBytes("registry", ""))).toBe(estimate.freedByRun!.bytes + estimate.alreadyUnreferenced!.bytes);
    expect(estimate.freedByRun!.bytes).toBeGreaterThan(0);
    const target = await mkdtemp(join(top.dir, "pulled-"));
    for (const [index, k] of history.kept.entries()) {
      const ref = `docker://${top.registry.host}/${k.repo}${k.ref}`;
      await expect(skopeoCopyAll(ref, `${ROOT.username}:${ROOT.secret}`, join(target, String(index))), ref).resolves.toBeUndefined();
    }
    // `dir:` keeps each platform manifest of a copied index as <hex>.manifest.json next to it.
    for (const [tag, children] of Object.entries(history.platforms)) {
      const copied = await readdir(join(target, String(history.kept.findIndex((k) => k.ref === `:${tag}`))));
      expect(copied, tag).toEqual(expect.arrayContaining(children.map((digest) => `${digest.slice("sha256:".length)}.manifest.json`)));
    }
  });
});

describe("the same history elsewhere", () => {
  it("under rootdirectory /registry, with keys in the environment, the dry run finds the same manifests", async () => {
    const result = await runCli([...(await serverArgs(prefixed)), "--registry-config", prefixed.registry.configPath, "-n"], {
      env: keysInEnvironment(),
    });
    expect(result.code, show(result)).toBe(0);
    expect(linesStarting(result.stdout, "Would delete image "), show(result)).toEqual(expectedLines("Would delete"));
    expect(result.stdout).toMatch(/^ {2}Storage +s3:\/\/prefixed\/registry \(credentials from the environment \(AWS_ACCESS_KEY_ID\)\)$/m);
  });

  it("keys from the environment: --json names their source and neither key appears anywhere", async () => {
    const result = await runCli([...(await serverArgs(prefixed)), "--registry-config", prefixed.registry.configPath, "-n", "--json"], {
      env: keysInEnvironment(),
    });
    expect(result.code, show(result)).toBe(0);
    const document = JSON.parse(result.stdout) as { settings: { storage: unknown } };
    expect(document.settings.storage).toEqual({
      location: "s3://prefixed/registry", driver: "s3", credentials: "the environment (AWS_ACCESS_KEY_ID)",
    });
    expect(linesStarting(result.stderr, "Would delete image ")).toEqual(expectedLines("Would delete"));
    for (const secret of [s3.secretKey, s3.accessKey]) expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it("-p together with --storage is a usage error (exit 2)", async () => {
    const result = await runCli([
      ...(await serverArgs(prefixed)), "-p", "/var/opt/gitlab/gitlab-rails/shared/registry",
      "--storage", "s3://prefixed/registry", "--s3-endpoint", s3.endpoint,
    ], { env: keysInEnvironment() });
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain("-p/--registry-path and --storage both name the storage");
    expect(result.stdout).not.toMatch(/^Deleted image /m);
    expect(await revisionKeys("prefixed", "registry/")).toHaveLength(history.doomed.length + history.kept.length);
  });

  it("--storage s3://prefixed/registry --s3-endpoint: refused without the config, even with the lockfile; deletes with it", async () => {
    const storage = ["--storage", "s3://prefixed/registry", "--s3-endpoint", s3.endpoint];
    const args = [...(await serverArgs(prefixed)), "--registry-config", join(prefixed.dir, "no-such-config.yml"), ...storage];
    const linksBefore = await revisionKeys("prefixed", "registry/");
    // Distribution 2.8 writes no lockfile, and no config says whether the metadata database is on.
    const refused = await runCli(args, { env: keysInEnvironment() });
    expect(refused.code, show(refused)).toBe(3);
    expect(refused.stderr).toMatch(/Cannot tell whether the registry uses its metadata database/);
    expect(await revisionKeys("prefixed", "registry/")).toEqual(linksBefore);

    // GitLab's registry writes this lockfile when it runs without the database, but a migration before
    // 18.8 can leave it stale, and this registry sends no Gitlab-Container-Registry-Database-Enabled.
    await s3.putObject("prefixed", "registry/docker/registry/lockfiles/filesystem-in-use", "");
    const lone = await runCli(args, { env: keysInEnvironment() });
    expect(lone.code, show(lone)).toBe(3);
    expect(lone.stderr).toMatch(/Only the lockfile docker\/registry\/lockfiles\/filesystem-in-use .*--registry-config/);
    expect(await revisionKeys("prefixed", "registry/")).toEqual(linksBefore);

    const withConfig = [...(await serverArgs(prefixed)), "--registry-config", prefixed.registry.configPath, ...storage];
    const result = await runCli(withConfig, { env: keysInEnvironment() });
    expect(result.code, show(result)).toBe(0);
    expect(linesStarting(result.stdout, "Deleted image "), show(result)).toEqual(expectedLines("Deleted"));
    expect(result.stdout).toMatch(/^ {2}Storage +s3:\/\/prefixed\/registry \(credentials from the environment \(AWS_ACCESS_KEY_ID\)\)$/m);
    const doomedKeys = history.doomed.map((d) => revisionKey("registry/", d));
    expect(await revisionKeys("prefixed", "registry/")).toEqual(linksBefore.filter((key) => !doomedKeys.includes(key)));
  });
});
