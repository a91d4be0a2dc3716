/**
 * Races: while the CLI deletes hundreds of untagged manifests, another client tags some of them
 * and pushes multi-arch indexes over others. Afterwards every tagged manifest, and everything a
 * tagged (or newly pushed) index lists, must still exist on disk and be served by digest.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushBatch, type RaceSetup } from "../helpers/race-setup.js";
import { pushIndex, tagManifest } from "../helpers/images.js";
import { getServed, hasRevision, linesStarting, readJournalLines } from "../helpers/registry-state.js";
import { credentialsFile, environmentArgs } from "../helpers/run-cli.js";
import { startCli } from "../helpers/spawn-cli.js";
import { measureWindow } from "../helpers/race-window.js";

let env: Environment;
let creds: string;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project", members: {} }] });
  creds = await credentialsFile(env, ROOT);
});

afterAll(async () => {
  await env?.stop();
});

/** tag -> digest of every `current/link` of `repo`, read from disk. */
async function tagsOnDisk(repo: string): Promise<Map<string, string>> {
  const dir = join(env.registry.storageRoot, "docker/registry/v2/repositories", repo, "_manifests/tags");
  const tags = new Map<string, string>();
  for (const tag of await readdir(dir).catch(() => [])) {
    const link = await readFile(join(dir, tag, "current/link"), "utf8").catch(() => undefined);
    if (link) tags.set(tag, link);
  }
  return tags;
}

/** Asserts that `digest` is on disk and served, and so are the manifests it lists. */
async function expectIntact(repo: string, digest: string): Promise<void> {
  expect(await hasRevision(env, repo, digest), `${repo}@${digest} on disk`).toBe(true);
  const served = await getServed(env, ROOT, repo, digest);
  expect(served.status, `${repo}@${digest} served`).toBe(200);
  const children = (JSON.parse(served.bytes.toString()) as { manifests?: Array<{ digest: string }> }).manifests ?? [];
  for (const child of children) await expectIntact(repo, child.digest);
}

describe("deleting while others push", () => {
  let setup: RaceSetup;

  it("keeps what is tagged or indexed mid-run, deletes the rest, journals every deletion", async () => {
    setup = await pushBatch(env, 120);
    const cli = startCli([...environmentArgs(env, creds), "--min-age", "0"]);
    await cli.waitForOutput((out) => out.includes("Deleted image"));
    const ctx = env.pushContext(ROOT);
    const racedAt = Date.now();
    // Tag candidates, push a tagged index over others and an untagged one over more.
    await Promise.all(setup.toTag.map((m, i) => tagManifest(ctx, setup.repos[0]!, `race-${i}`, m)));
    const tagged = await pushIndex(ctx, setup.repos[1]!, setup.toIndex, { tag: "multi" });
    const untagged = await pushIndex(ctx, setup.repos[2]!, setup.toIndexUntagged);
    const raceMs = Date.now() - racedAt;
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);
    for (const repo of setup.repos) {
      for (const digest of (await tagsOnDisk(repo)).values()) await expectIntact(repo, digest);
    }
    expect((await tagsOnDisk(setup.repos[0]!)).size).toBe(1 + setup.toTag.length);
    await expectIntact(setup.repos[1]!, tagged.digest);
    await expectIntact(setup.repos[2]!, untagged.digest);
    const kept = linesStarting(result.stdout, "Kept image");
    const required = [...setup.toTag, ...setup.toIndex, ...setup.toIndexUntagged].map((m) => m.digest);
    for (const digest of required) expect(kept.some((line) => line.includes(digest)), digest).toBe(true);
    // A tag link read at the instant the registry rewrites it (truncate, then write) is empty: the
    // tool then keeps that whole repository, the safe answer. Only that may add to the required keeps.
    const extra = kept.filter((line) => !required.some((digest) => line.includes(digest)));
    for (const line of extra) expect(line).toContain("cannot be read (the link file is empty)");
    const deleted = linesStarting(result.stdout, "Deleted image");
    expect(deleted).toHaveLength(setup.total - kept.length);
    const journaled = new Set((await readJournalLines(join(env.dir, "journal.jsonl"))).map((l) => `${l.digest} in repository ${l.repository}`));
    for (const line of deleted) expect(journaled.has(line.slice("Deleted image ".length))).toBe(true);
    console.log(`race: ${setup.total} candidates, the racer needed ${raceMs} ms; kept on re-check: ${kept.length}`);
  });

  it("measures the window between the last re-check and each DELETE", async () => {
    const stats = await measureWindow(env, await pushBatch(env, 100, 5000));
    console.log(`window (re-check start -> DELETE answered), ms: ${JSON.stringify(stats)}`);
    expect(stats.deletes).toBeGreaterThan(250);
    // What remains is a few DELETE round trips: far below a second on a loopback registry.
    expect(stats.maxMs).toBeLessThan(1000);
  });
});
