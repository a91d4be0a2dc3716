/**
 * Tag retention end to end: the built CLI against the real registry and the GitLab stand-in, on a
 * repository history with known push times (each tag's `current/link` mtime, set after pushing).
 * Exactly the expected tags leave tags/list and exactly the manifests they untag lose their
 * revision links; every other tag still resolves, and copies completely after garbage collection.
 * Also: restore of deleted tags, and a tag pushed again between the dry run and the real run.
 */
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, pushIndex, pushMultiArch, tagManifest, type PushContext, type PushedManifest } from "../helpers/images.js";
import { fetchToken, registryCall } from "../helpers/registry-http.js";
import { garbageCollect } from "../helpers/registry-server.js";
import { getServed, hasRevision, linesStarting, readJournalLines, revisionLink } from "../helpers/registry-state.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { skopeoCopyAll } from "../helpers/skopeo.js";
import { tagCurrentLinkPath } from "../helpers/storage-tree.js";

const DAY_MS = 86_400_000;
const APP = "group/project";
const NIGHTLY = "group/project/nightly";

let env: Environment;
let creds: string;
/** Every tag the registry should hold, per repository: tag -> manifest. */
const tags = new Map<string, Map<string, PushedManifest>>();
/** Files whose mtime is set once everything is pushed (a PUT rewrites the revision link's). */
const ages: Array<{ path: string; days: number }> = [];
let main3: { index: PushedManifest; children: PushedManifest[] };
let untaggedYoung: PushedManifest;

function tagged(repo: string, tag: string): PushedManifest {
  return tags.get(repo)!.get(tag)!;
}

/** Records `tag` -> `manifest` in `repo`, pushed `days` ago (the revision as well unless `retag`). */
function pushedAgo(repo: string, tag: string, manifest: PushedManifest, days: number, retag = false): void {
  if (!tags.has(repo)) tags.set(repo, new Map());
  tags.get(repo)!.set(tag, manifest);
  ages.push({ path: tagCurrentLinkPath(env.registry.storageRoot, repo, tag), days });
  if (!retag) ages.push({ path: revisionLink(env, repo, manifest.digest), days });
}

async function image(ctx: PushContext, repo: string, tag: string, seed: number, days: number): Promise<PushedManifest> {
  const manifest = await pushImage(ctx, repo, { seed, tag });
  pushedAgo(repo, tag, manifest, days);
  return manifest;
}

async function applyAges(): Promise<void> {
  for (const { path, days } of ages.splice(0)) {
    const when = new Date(Date.now() - days * DAY_MS);
    await utimes(path, when, when);
  }
}

async function seed(): Promise<void> {
  const ctx = env.pushContext(ROOT);
  // build-1 (60 days ago) … build-6 (10 days ago), one image each.
  for (let k = 1; k <= 6; k++) await image(ctx, APP, `build-${k}`, 10 + k, 70 - 10 * k);
  // Two tags on one digest: build-3 expires, release-1 does not.
  await tagManifest(ctx, APP, "release-1", tagged(APP, "build-3"));
  pushedAgo(APP, "release-1", tagged(APP, "build-3"), 5, true);
  await image(ctx, APP, "latest", 30, 90);
  await image(ctx, APP, "main-1", 41, 80);
  await image(ctx, APP, "main-2", 42, 70);
  main3 = await pushMultiArch(ctx, APP, { seed: 43, tag: "main-3" });
  pushedAgo(APP, "main-3", main3.index, 65);
  for (const child of main3.children) ages.push({ path: revisionLink(env, APP, child.digest), days: 65 });
  // mr-5: a manifest list over main-3's platform manifests; when it goes, they stay.
  pushedAgo(APP, "mr-5", await pushIndex(ctx, APP, main3.children, { tag: "mr-5", format: "docker" }), 45);
  await image(ctx, APP, "mr-6", 56, 35);
  await image(ctx, APP, "mr-7", 57, 25);
  for (const [tag, days] of [["nightly-1", 40], ["nightly-2", 35], ["nightly-3", 5]] as const) {
    await image(ctx, NIGHTLY, tag, 70 + days, days);
  }
  await applyAges();
}

async function tagsList(repo: string): Promise<string[]> {
  const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${repo}:pull`]);
  const reply = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token });
  expect(reply.status, `${repo} tags/list`).toBe(200);
  return (((JSON.parse(reply.body.toString("utf8")) as { tags: string[] | null }).tags) ?? []).sort();
}

/** The digest the registry serves for `repo:tag`, or undefined on 404. */
async function resolve(repo: string, tag: string): Promise<string | undefined> {
  const served = await getServed(env, ROOT, repo, tag);
  if (served.status === 404) return undefined;
  expect(served.status, `${repo}:${tag}`).toBe(200);
  return served.headerDigest;
}

/** Asserts that the registry holds exactly the expected tags of `repo`, each on its digest. */
async function expectTags(repo: string): Promise<void> {
  const expected = tags.get(repo)!;
  expect(await tagsList(repo)).toEqual([...expected.keys()].sort());
  for (const [tag, manifest] of expected) expect(await resolve(repo, tag), `${repo}:${tag}`).toBe(manifest.digest);
}

function retention(args: string[], journal: string): Promise<CliResult> {
  return runCli([...environmentArgs(env, creds), "--journal", join(env.dir, journal), ...args]);
}

function tagLine(verb: string, repo: string, tag: string, days: number): string {
  const day = new Date(Date.now() - days * DAY_MS).toISOString().slice(0, 10);
  return `${verb} tag ${tag} (${tagged(repo, tag).digest}, pushed ${day}) in repository ${repo}`;
}

function imageLines(verb: string, repo: string, manifests: PushedManifest[]): string[] {
  return manifests.map((m) => `${verb} image ${m.digest} in repository ${repo}`).sort();
}

function forget(repo: string, names: string[]): void {
  for (const name of names) tags.get(repo)!.delete(name);
}

const BUILD_GONE = ["build-1", "build-2", "build-3", "build-4"];
const BUILD_AGES: Record<string, number> = { "build-1": 60, "build-2": 50, "build-3": 40, "build-4": 30 };
const HISTORY = ["--repository", APP, "--keep-n", "2", "--name-regex-delete", "build-.*", "--min-age", "0", "--max-delete", "100%"];
let untaggedByBuilds: PushedManifest[] = [];

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: APP, members: {} }] });
  creds = await credentialsFile(env, ROOT_TOKEN);
  await seed();
  // build-3's digest stays tagged (release-1): only the other three manifests become untagged.
  untaggedByBuilds = ["build-1", "build-2", "build-4"].map((tag) => tagged(APP, tag));
});

afterAll(async () => {
  await env?.stop();
});

describe("a repository history with known push times", () => {
  it("dry run lists exactly the expired tags and the manifests they untag; nothing changes", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    const result = await retention([...HISTORY, "-n"], "dry.jsonl");
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Would delete tag")).toEqual(
      BUILD_GONE.map((tag) => tagLine("Would delete", APP, tag, BUILD_AGES[tag]!)).sort(),
    );
    expect(linesStarting(result.stdout, "Would delete image")).toEqual(imageLines("Would delete", APP, untaggedByBuilds));
    expect(result.stdout).toMatch(/Tags to delete\s+4\b/);
    // The space table: 14 tags now, 10 once the run (and garbage collection) is done.
    expect(result.stdout).toMatch(/^ {2}Tags {34}14 {14}10$/m);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
    await expectTags(APP);
  });

  it("deletes exactly those tags, then exactly the manifests they untagged; journals the tags", async () => {
    const result = await retention(HISTORY, "history.jsonl");
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual(
      BUILD_GONE.map((tag) => tagLine("Deleted", APP, tag, BUILD_AGES[tag]!)).sort(),
    );
    expect(linesStarting(result.stdout, "Deleted image")).toEqual(imageLines("Deleted", APP, untaggedByBuilds));
    const journaled = (await readJournalLines(join(env.dir, "history.jsonl"))) as Array<{ tag?: string; digest: string }>;
    expect(journaled.filter((e) => e.tag).map((e) => `${e.tag} ${e.digest}`).sort()).toEqual(
      BUILD_GONE.map((tag) => `${tag} ${tagged(APP, tag).digest}`).sort(),
    );
    for (const m of untaggedByBuilds) expect(await hasRevision(env, APP, m.digest)).toBe(false);
    forget(APP, BUILD_GONE);
    await expectTags(APP);
    for (const manifest of [...tags.get(APP)!.values(), ...main3.children]) {
      expect(await hasRevision(env, APP, manifest.digest), manifest.digest).toBe(true);
    }
    await expectTags(NIGHTLY);
  });

  it("restore puts a deleted tag back onto its manifest, which it re-uploads first", async () => {
    const journal = join(env.dir, "history.jsonl");
    const args = ["-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", creds];
    const dry = await runCli(["restore", journal, "-n", ...args]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(linesStarting(dry.stdout, "Would restore tag")).toHaveLength(4);
    expect(linesStarting(dry.stdout, "Would restore image")).toEqual(imageLines("Would restore", APP, untaggedByBuilds));
    const build2 = (await readJournalLines(journal)).find((e) => (e as { tag?: string }).tag === "build-2")!;
    const result = await runCli(["restore", journal, "--tag", "build-2", ...args]);
    expect(result.code, result.stderr).toBe(0);
    const restoredTag = `Restored tag build-2 (${build2.digest}) in repository ${APP}`;
    expect(linesStarting(result.stdout, "Restored tag")).toEqual([restoredTag]);
    expect(linesStarting(result.stdout, "Restored image")).toEqual(imageLines("Restored", APP, [untaggedByBuilds[1]!]));
    expect(result.stdout.indexOf("Restored image")).toBeLessThan(result.stdout.indexOf(restoredTag));
    expect(await resolve(APP, "build-2")).toBe(build2.digest);
    expect(await hasRevision(env, APP, build2.digest)).toBe(true);
    expect(await resolve(APP, "build-1")).toBeUndefined();
    tags.get(APP)!.set("build-2", untaggedByBuilds[1]!);
    await expectTags(APP);
  });

  it("--older-than 30d with --name-regex-keep 'main-.*': old mr-* go, main-* and latest stay", async () => {
    // Pushed just now and untagged: the default --min-age keeps it.
    untaggedYoung = await pushImage(env.pushContext(ROOT), APP, { seed: 60 });
    const result = await retention(["--repository", APP, "--older-than", "30d", "--name-regex-keep", "main-.*"], "older.jsonl");
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual(
      [tagLine("Deleted", APP, "mr-5", 45), tagLine("Deleted", APP, "mr-6", 35)].sort(),
    );
    // The default --min-age 24h: the old manifests untagged by this run go, the fresh push stays.
    const gone = [tagged(APP, "mr-5"), tagged(APP, "mr-6")];
    expect(linesStarting(result.stdout, "Deleted image")).toEqual(imageLines("Deleted", APP, gone));
    expect(result.stdout).toMatch(/Tags kept by retention\s+9\b/);
    expect(result.stdout).toMatch(/^\s+latest\s+1$/m);
    forget(APP, ["mr-5", "mr-6"]);
    await expectTags(APP);
    for (const m of gone) expect(await hasRevision(env, APP, m.digest)).toBe(false);
    // main-3's platform manifests were listed by mr-5 too; main-3 still lists them.
    for (const m of [...main3.children, untaggedYoung]) expect(await hasRevision(env, APP, m.digest)).toBe(true);
  });

  it("a tag pushed again to another digest after the dry run is not deleted", async () => {
    const args = ["--repository", NIGHTLY, "--older-than", "30d", "--max-delete", "100%"];
    const dry = await retention([...args, "-n"], "nightly-dry.jsonl");
    expect(dry.code, dry.stderr).toBe(0);
    expect(linesStarting(dry.stdout, "Would delete tag")).toEqual(
      [tagLine("Would delete", NIGHTLY, "nightly-1", 40), tagLine("Would delete", NIGHTLY, "nightly-2", 35)],
    );
    const previous = tagged(NIGHTLY, "nightly-1");
    const nightly2 = tagged(NIGHTLY, "nightly-2");
    const again = await pushImage(env.pushContext(ROOT), NIGHTLY, { seed: 99, tag: "nightly-1" });
    tags.get(NIGHTLY)!.set("nightly-1", again);
    const result = await retention(args, "nightly.jsonl");
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Deleted tag")).toEqual([tagLine("Deleted", NIGHTLY, "nightly-2", 35)]);
    expect(result.stdout).not.toContain("tag nightly-1 ");
    // Its old manifest was untagged by the push, long ago linked: the untagged cleanup takes it.
    expect(linesStarting(result.stdout, "Deleted image")).toEqual(imageLines("Deleted", NIGHTLY, [previous, nightly2]));
    forget(NIGHTLY, ["nightly-2"]);
    await expectTags(NIGHTLY);
  });

  it("after garbage collection every kept tag copies completely, each platform of an index", async () => {
    await env.registry.stop();
    await garbageCollect(env.registry.configPath);
    await env.registry.restart();
    const host = new URL(env.registry.url).host;
    const refs = [...tags].flatMap(([repo, byTag]) => [...byTag.keys()].map((tag) => `${repo}:${tag}`));
    // Kept by --min-age, untagged: it copies by digest.
    refs.push(`${APP}@${untaggedYoung.digest}`);
    for (const [index, ref] of refs.entries()) {
      const source = `docker://${host}/${ref}`;
      await expect(skopeoCopyAll(source, `${ROOT.username}:${ROOT.secret}`, join(env.dir, "pulled", String(index))), source).resolves.toBeUndefined();
    }
  });
});
