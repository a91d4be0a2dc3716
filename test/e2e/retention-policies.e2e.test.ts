/**
 * Tag retention driven by GitLab, end to end: the built CLI against the real registry and the
 * GitLab stand-in's REST API. A tag matching a project's protection rule is never deleted;
 * `--gitlab-policies` applies each project's own cleanup policy where it is enabled (and needs a
 * token); `--repository` / `--exclude-repository` limit what the whole run looks at; and
 * `--max-delete` refuses a run that would delete too many tags, before deleting anything.
 */
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import type { StandinProject } from "../helpers/gitlab-standin.js";
import { pushImage, type PushedManifest } from "../helpers/images.js";
import { fetchToken, registryCall } from "../helpers/registry-http.js";
import { getServed, hasRevision, linesStarting, revisionLink } from "../helpers/registry-state.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { tagCurrentLinkPath } from "../helpers/storage-tree.js";

const DAY_MS = 86_400_000;
const PROTECTED = "prot/app";
const RULE = "release-.*";
const FILTERED = ["group/a", "group/a/api", "group/a/skip", "group/b"];
const BULK = "bulk/app";
const POLICY = { keepN: 1, olderThan: "14d", nameRegex: ".*" };

const PROJECTS: StandinProject[] = [
  {
    path: PROTECTED,
    tagProtection: [{ tagNamePattern: RULE, minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "owner" }],
  },
  { path: "pol/on", expirationPolicy: { enabled: true, ...POLICY } },
  { path: "pol/off", expirationPolicy: { enabled: false, ...POLICY } },
  { path: "group/a" },
  { path: "group/b" },
  { path: BULK },
];

let env: Environment;
let token: string;
let password: string;
/** repo -> tag -> manifest, as pushed. */
const pushed = new Map<string, Map<string, PushedManifest>>();
/** repo -> the manifest a re-push of `app` left untagged. */
const untagged = new Map<string, PushedManifest>();
let seedCounter = 1;

function manifest(repo: string, tag: string): PushedManifest {
  return pushed.get(repo)!.get(tag)!;
}

/** Pushes one image per tag, then dates each tag and its revision `days` ago. */
async function pushTags(repo: string, ages: Record<string, number>): Promise<void> {
  const ctx = env.pushContext(ROOT);
  const byTag = new Map<string, PushedManifest>();
  pushed.set(repo, byTag);
  for (const tag of Object.keys(ages)) byTag.set(tag, await pushImage(ctx, repo, { seed: seedCounter++, tag }));
  for (const [tag, days] of Object.entries(ages)) {
    const when = new Date(Date.now() - days * DAY_MS);
    await utimes(tagCurrentLinkPath(env.registry.storageRoot, repo, tag), when, when);
    await utimes(revisionLink(env, repo, byTag.get(tag)!.digest), when, when);
  }
}

async function seed(): Promise<void> {
  await pushTags(PROTECTED, { "release-1": 40, "release-2": 35, "tmp-1": 40, "tmp-2": 2 });
  await pushTags(BULK, Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((k) => [`ci-${k}`, 9 - k])));
  for (const repo of ["pol/on", "pol/off"]) await pushTags(repo, { latest: 40, "t-1": 30, "t-2": 20, "t-3": 10, "t-4": 1 });
  for (const repo of FILTERED) {
    // `app` pushed twice: the first image is untagged (and old); `old` expires with --older-than 7d.
    const first = await pushImage(env.pushContext(ROOT), repo, { seed: seedCounter++, tag: "app" });
    await pushTags(repo, { app: 1, old: 10 });
    untagged.set(repo, first);
    const when = new Date(Date.now() - 10 * DAY_MS);
    await utimes(revisionLink(env, repo, first.digest), when, when);
  }
}

async function tagsList(repo: string): Promise<string[]> {
  const bearer = await fetchToken(env.gitlab.realm, ROOT, [`repository:${repo}:pull`]);
  const reply = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token: bearer });
  expect(reply.status, `${repo} tags/list`).toBe(200);
  return (((JSON.parse(reply.body.toString("utf8")) as { tags: string[] | null }).tags) ?? []).sort();
}

/** The registry holds exactly `expected` in `repo`, each on the digest it was pushed with. */
async function expectTags(repo: string, expected: string[]): Promise<void> {
  expect(await tagsList(repo), repo).toEqual([...expected].sort());
  for (const tag of expected) expect((await getServed(env, ROOT, repo, tag)).headerDigest, `${repo}:${tag}`).toBe(manifest(repo, tag).digest);
}

function cli(credentials: string, args: string[]): Promise<CliResult> {
  return runCli([...environmentArgs(env, credentials), ...args]);
}

function pushedOn(days: number): string {
  return new Date(Date.now() - days * DAY_MS).toISOString().slice(0, 10);
}

function tagLine(verb: string, repo: string, tag: string, days: number): string {
  return `${verb} tag ${tag} (${manifest(repo, tag).digest}, pushed ${pushedOn(days)}) in repository ${repo}`;
}

function imageLine(verb: string, repo: string, m: PushedManifest): string {
  return `${verb} image ${m.digest} in repository ${repo}`;
}

beforeAll(async () => {
  env = await startEnvironment({ projects: PROJECTS });
  token = await credentialsFile(env, ROOT_TOKEN, "token");
  password = await credentialsFile(env, ROOT, "password");
  await seed();
});

afterAll(async () => {
  await env?.stop();
});

describe("protected tags", () => {
  it("keeps tags matching the project's protection rule, names the rule, and keeps their manifests", async () => {
    const args = ["--repository", PROTECTED, "--older-than", "30d", "--min-age", "0"];
    const json = await cli(token, [...args, "-n", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      tags: { kept: Record<string, number>; keptTags: Array<{ tag: string; reason: string; detail: string }> };
    };
    expect(report.tags.kept.protected).toBe(2);
    const kept = report.tags.keptTags.filter((t) => t.reason === "protected");
    expect(kept.map((t) => t.tag).sort()).toEqual(["release-1", "release-2"]);
    for (const t of kept) expect(t.detail).toContain(RULE);

    const result = await cli(token, [...args, "-v"]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual([tagLine("Deleted", PROTECTED, "tmp-1", 40)]);
    for (const tag of ["release-1", "release-2"]) {
      const line = `Keep tag ${tag} (${manifest(PROTECTED, tag).digest}) in repository ${PROTECTED}: protected by ${RULE} `;
      expect(result.stdout.split("\n").filter((l) => l.startsWith(line)), tag).toHaveLength(1);
      expect(await hasRevision(env, PROTECTED, manifest(PROTECTED, tag).digest)).toBe(true);
    }
    expect(result.stdout).toMatch(/^\s+protected\s+2$/m);
    expect(linesStarting(result.stdout, "Deleted image")).toEqual([imageLine("Deleted", PROTECTED, manifest(PROTECTED, "tmp-1"))]);
    await expectTags(PROTECTED, ["release-1", "release-2", "tmp-2"]);
  });
});

describe("--gitlab-policies", () => {
  it("with a password: exit 2, says a token with api is needed, deletes nothing", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    const result = await cli(password, ["--gitlab-policies", "--repository", "pol/**"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--gitlab-policies");
    expect(result.stderr).toMatch(/token/);
    expect(result.stderr).toMatch(/\bapi\b/);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
  });

  it("applies the enabled project's cleanup policy only", async () => {
    const result = await cli(token, ["--gitlab-policies", "--repository", "pol/**", "--min-age", "0"]);
    expect(result.code, result.stderr).toBe(0);
    // keep_n 1 keeps t-4 (latest is never counted), older_than 14d keeps t-3.
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual([tagLine("Deleted", "pol/on", "t-1", 30), tagLine("Deleted", "pol/on", "t-2", 20)]);
    expect(linesStarting(result.stdout, "Deleted image")).toEqual(
      [imageLine("Deleted", "pol/on", manifest("pol/on", "t-1")), imageLine("Deleted", "pol/on", manifest("pol/on", "t-2"))].sort(),
    );
    await expectTags("pol/on", ["latest", "t-3", "t-4"]);
    await expectTags("pol/off", ["latest", "t-1", "t-2", "t-3", "t-4"]);
  });
});

describe("repository filters", () => {
  const filters = ["--repository", "group/a/**", "--exclude-repository", "group/a/skip", "--min-age", "0"];
  const inScope = ["group/a", "group/a/api"];

  it("with retention: only the matching repositories are scanned and their tags judged", async () => {
    const result = await cli(token, [...filters, "--older-than", "7d", "--max-delete", "100%", "-n"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Repositories scanned\s+2$/m);
    expect(linesStarting(result.stdout, "Would delete tag")).toEqual(inScope.map((repo) => tagLine("Would delete", repo, "old", 10)).sort());
    expect(linesStarting(result.stdout, "Would delete image")).toEqual(
      inScope.flatMap((repo) => [imageLine("Would delete", repo, manifest(repo, "old")), imageLine("Would delete", repo, untagged.get(repo)!)]).sort(),
    );
  });

  it("without retention: only the matching repositories are cleaned", async () => {
    const result = await cli(token, filters);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Repositories scanned\s+2$/m);
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual([]);
    expect(linesStarting(result.stdout, "Deleted image")).toEqual(inScope.map((repo) => imageLine("Deleted", repo, untagged.get(repo)!)).sort());
    for (const repo of FILTERED) {
      expect(await hasRevision(env, repo, untagged.get(repo)!.digest), repo).toBe(!inScope.includes(repo));
      await expectTags(repo, ["app", "old"]);
    }
  });
});

describe("--max-delete", () => {
  const bulk = ["--repository", BULK, "--keep-n", "2", "--min-age", "0"];
  const all = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => `ci-${k}`);

  it("refuses a run deleting 6 of 8 tags with the default 50%, deletes nothing, says how to lift it", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    const result = await cli(token, bulk);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(
      `Refusing to delete 6 of 8 tags (75%) in repository ${BULK}: more than the --max-delete limit of 50% of a repository's tags.`,
    );
    expect(result.stderr).toContain("pass --max-delete 100% to lift the limit. Nothing was deleted.");
    expect(linesStarting(result.stdout, "Deleted")).toEqual([]);
    await expectTags(BULK, all);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
  });

  it("a dry run lists every planned tag and still exits 3; a count limit refuses too", async () => {
    const dry = await cli(token, [...bulk, "-n"]);
    expect(dry.code, dry.stderr).toBe(3);
    expect(linesStarting(dry.stdout, "Would delete tag")).toEqual(
      [1, 2, 3, 4, 5, 6].map((k) => tagLine("Would delete", BULK, `ci-${k}`, 9 - k)).sort(),
    );
    expect(dry.stdout).toContain(`Stopped: Refusing to delete 6 of 8 tags (75%) in repository ${BULK}`);
    const count = await cli(token, [...bulk, "--max-delete", "3"]);
    expect(count.code, count.stderr).toBe(3);
    expect(count.stderr).toContain("Refusing to delete 6 tags in total: more than --max-delete 3 allows.");
    expect(count.stderr).toContain("Nothing was deleted.");
    const atLimit = await cli(token, [...bulk, "--max-delete", "6", "-n"]);
    expect(atLimit.code, atLimit.stderr).toBe(0);
    await expectTags(BULK, all);
  });
});
