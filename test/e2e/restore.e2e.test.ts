/**
 * Restore end to end: the built CLI cleans up, then `restore` puts the journaled manifests back
 * and the registry serves each byte for byte; dry run, filters, bad journal lines, missing push
 * rights, and what garbage collection makes impossible.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_USERS, ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, pushMultiArch, pushReferrer, pushTagHistory, type PushedManifest } from "../helpers/images.js";
import { garbageCollect } from "../helpers/registry-server.js";
import { getServed, hasRevision, linesStarting, readJournalLines, type JournalLine } from "../helpers/registry-state.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";

const APP = "group/project";
const MULTI = "group/project/multiarch";
/** Never tagged: the registry answers its tags/list with 404 NAME_UNKNOWN. */
const UNTAGGED = "group/project/never-tagged";
const VIEWER = { username: "viewer", secret: "viewer-password" };

let env: Environment;
let creds: string;
let journal: string;
let entries: JournalLine[];
let signature: PushedManifest;
let signed: PushedManifest;
let oldIndex: { index: PushedManifest; children: PushedManifest[] };

function restore(args: string[], credentials = creds): Promise<CliResult> {
  return runCli(["restore", ...args, "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", credentials]);
}

function line(verb: string, repo: string, digest: string): string {
  return `${verb} image ${digest} in repository ${repo}`;
}

async function seed(): Promise<void> {
  const ctx = env.pushContext(ROOT);
  const history = await pushTagHistory(ctx, APP, "latest", 3, { seed: 10, layers: 2 });
  signed = history[0]!;
  // A signature of a doomed image: deleted with it, restored after it.
  signature = await pushReferrer(ctx, APP, signed, { seed: 1 });
  await pushImage(ctx, APP, { seed: 20, format: "oci" });
  await pushMultiArch(ctx, MULTI, { seed: 30, tag: "v1" });
  oldIndex = await pushMultiArch(ctx, MULTI, { seed: 40, format: "oci" });
  await pushMultiArch(ctx, MULTI, { seed: 50, format: "docker" });
  await pushImage(ctx, UNTAGGED, { seed: 60 });
}

beforeAll(async () => {
  env = await startEnvironment({
    users: [...DEFAULT_USERS, { username: VIEWER.username, password: VIEWER.secret }],
    projects: [{ path: APP, members: { viewer: "reporter" } }],
  });
  creds = await credentialsFile(env, ROOT);
  await seed();
  const cleanup = await runCli([...environmentArgs(env, creds), "--min-age", "0"]);
  expect(cleanup.code, cleanup.stderr).toBe(0);
  journal = join(env.dir, "journal.jsonl");
  entries = await readJournalLines(journal);
  // 2 old tags + signature + oci image; 2 untagged indexes with 2 children each; the never tagged image.
  expect(entries).toHaveLength(11);
  for (const e of entries) expect(await hasRevision(env, e.repository, e.digest)).toBe(false);
});

afterAll(async () => {
  await env?.stop();
});

describe("restore from the journal", () => {
  it("refuses a missing journal with exit 2", async () => {
    const result = await restore([join(env.dir, "no-such-journal.jsonl")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("it does not exist");
  });

  it("dry run says what it would restore and changes nothing", async () => {
    const result = await restore([journal, "-n"]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Would restore image")).toEqual(
      entries.map((e) => line("Would restore", e.repository, e.digest)).sort(),
    );
    for (const e of entries) expect(await hasRevision(env, e.repository, e.digest)).toBe(false);
    const json = JSON.parse((await restore([journal, "-n", "--json"])).stdout) as { totals: Record<string, number> };
    expect(json.totals["would-restore"]).toBe(entries.length);
  });

  it("a user without push restores nothing and says why", async () => {
    const viewer = await credentialsFile(env, VIEWER, "viewer-credentials");
    const result = await restore([journal, "--repository", APP], viewer);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("lacks push here");
    expect(linesStarting(result.stdout, "Restored")).toEqual([]);
  });

  it("--digest restores that manifest and what it needs, nothing else", async () => {
    const result = await restore([journal, "--repository", APP, "--digest", `${signature.digest},${oldIndex.index.digest}`]);
    // The index is in another repository than the one selected: only the signature and its subject.
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`--digest ${oldIndex.index.digest} is not in`);
    expect(result.stdout.split("\n").filter((l) => l.startsWith("Restored image"))).toEqual([
      line("Restored", APP, signed.digest), line("Restored", APP, signature.digest),
    ]);
    const indexOnly = await restore([journal, "--digest", oldIndex.index.digest]);
    expect(indexOnly.code, indexOnly.stderr).toBe(0);
    const order = indexOnly.stdout.split("\n").filter((l) => l.startsWith("Restored image"));
    expect(order.slice(0, 2).sort()).toEqual(oldIndex.children.map((c) => line("Restored", MULTI, c.digest)).sort());
    expect(order[2]).toBe(line("Restored", MULTI, oldIndex.index.digest));
  });

  it("restores everything else; the registry serves every manifest byte for byte", async () => {
    const result = await restore([journal]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Already present:")).toHaveLength(5);
    expect(linesStarting(result.stdout, "Restored image")).toHaveLength(6);
    for (const e of entries) {
      const served = await getServed(env, ROOT, e.repository, e.digest);
      expect(served.status, `${e.repository}@${e.digest}`).toBe(200);
      expect(served.bytes.equals(Buffer.from(e.manifest, "base64"))).toBe(true);
      expect(served.bodyDigest).toBe(e.digest);
      expect(served.headerDigest).toBe(e.digest);
      expect(served.mediaType).toBe(e.mediaType);
      expect(await hasRevision(env, e.repository, e.digest)).toBe(true);
    }
  });

  it("skips unusable journal lines with their line numbers and exit 1", async () => {
    const tampered = { ...entries[0]!, manifest: Buffer.from("{}").toString("base64") };
    const text = [JSON.stringify(entries[1]), "{not json", JSON.stringify(tampered), JSON.stringify(entries[2])].join("\n");
    const path = join(env.dir, "damaged.jsonl");
    await writeFile(path, text + "\n");
    const result = await restore([path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path}:2: not valid JSON`);
    expect(result.stderr).toMatch(new RegExp(`${path}:3: the manifest bytes hash to sha256:[0-9a-f]{64}, not ${entries[0]!.digest}`));
    expect(linesStarting(result.stdout, "Already present:")).toHaveLength(2);
  });

  it("after garbage collection, says the layers are gone and exits 1", async () => {
    const again = await runCli([...environmentArgs(env, creds), "--min-age", "0", "--journal", join(env.dir, "second.jsonl")]);
    expect(again.code, again.stderr).toBe(0);
    await env.registry.stop();
    await garbageCollect(env.registry.configPath);
    await env.registry.restart();
    const result = await restore([join(env.dir, "second.jsonl")]);
    expect(result.code).toBe(1);
    const failures = linesStarting(result.stderr, "Could not restore image");
    expect(failures).toHaveLength(entries.length);
    const isIndex = (e: JournalLine): boolean => e.mediaType.includes("index") || e.mediaType.includes("list");
    const images = entries.filter((e) => !isIndex(e) && e.digest !== signature.digest);
    for (const e of images) {
      expect(result.stderr).toContain(`${line("Could not restore", e.repository, e.digest)}: its layers were already removed by garbage collection`);
    }
    expect(result.stderr).toContain(`${line("Could not restore", MULTI, oldIndex.index.digest)}: it needs sha256:`);
    expect(result.stderr).toContain(`${line("Could not restore", APP, signature.digest)}: it needs ${signed.digest}`);
    expect(result.stdout).toMatch(/Could not restore\s+11/);
  });
});
