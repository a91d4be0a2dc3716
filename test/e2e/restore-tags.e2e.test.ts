/**
 * Restoring deleted tags end to end, against the real registry (distribution 2.8.2, so tags are
 * deleted the way the cleanup does there: RegistryTagDeleter's dummy-manifest method). The journal
 * is written by hand exactly as the executor writes it, a record before each delete: tag records
 * with the manifest's exact bytes, and manifest records for manifests deleted after their tag.
 * Then the built CLI's `restore`: the tags resolve to their digests again and pull with skopeo;
 * `--tag` narrows; a tag pushed again meanwhile is left alone; a manifest deleted too comes back
 * first.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDigest, type Digest } from "../../src/core/digest.js";
import { parseRepositoryName, type RepositoryName } from "../../src/core/repository-name.js";
import type { JournalRecord } from "../../src/execute/journal.js";
import type { TokenActions } from "../../src/gitlab/ports.js";
import { GitLabTokenProvider } from "../../src/gitlab/token-provider.js";
import { createDispatcher } from "../../src/registry/http.js";
import { RegistryClient } from "../../src/registry/registry-client.js";
import { RegistryTagDeleter } from "../../src/registry/tag-deleter.js";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, pushMultiArch, tagManifest, type PushedManifest } from "../helpers/images.js";
import { getServed, hasRevision, linesStarting } from "../helpers/registry-state.js";
import { credentialsFile, runCli, type CliResult } from "../helpers/run-cli.js";
import { skopeoCopyAll, skopeoInspectRaw } from "../helpers/skopeo.js";

const APP = "group/project/tags";
const MULTI = "group/project/tags-multi";

let env: Environment;
let dispatcher: Dispatcher;
let creds: string;
let journal: string;
/** v1 and stable: only the tags were deleted, the manifest stays. */
let image: PushedManifest;
/** v2: tag deleted, then its manifest (left untagged) deleted too. */
let untagged: PushedManifest;
/** v3: tag deleted, then pushed again onto `pushedSince`. */
let moved: PushedManifest;
let pushedSince: PushedManifest;
/** multi: tag, index and both platform manifests deleted. */
let multi: { index: PushedManifest; children: PushedManifest[] };

const name = (text: string): RepositoryName => parseRepositoryName(text)!;
const digest = (manifest: PushedManifest): Digest => parseDigest(manifest.digest)!;

function restore(args: string[]): Promise<CliResult> {
  return runCli(["restore", journal, ...args, "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", creds]);
}

function tagLine(verb: string, repo: string, tag: string, manifest: PushedManifest): string {
  return `${verb} tag ${tag} (${manifest.digest}) in repository ${repo}`;
}

/** The digest a tag resolves to now, or undefined when the registry has no such tag. */
async function resolved(repo: string, tag: string): Promise<string | undefined> {
  const served = await getServed(env, ROOT, repo, tag);
  if (served.status === 404) return undefined;
  expect(served.status, `${repo}:${tag}`).toBe(200);
  return served.headerDigest;
}

/** Deletes tags and manifests as the executor does: each journaled (flushed) before its delete. */
class Cleaner {
  readonly records: JournalRecord[] = [];
  readonly #tokens = (actions: TokenActions): GitLabTokenProvider => new GitLabTokenProvider({
    gitlabUrl: new URL(env.gitlab.url), username: ROOT.username, secret: ROOT.secret, dispatcher, actions,
  });
  readonly #deleter = new RegistryTagDeleter({
    baseUrl: new URL(env.registry.url), tokens: this.#tokens("pull,delete"), pushTokens: this.#tokens("pull,push,delete"), dispatcher,
  });
  readonly #client = new RegistryClient({ baseUrl: new URL(env.registry.url), tokens: this.#tokens("pull,delete"), dispatcher });

  async deleteTag(repo: string, tag: string, manifest: PushedManifest): Promise<void> {
    await this.#journal(repo, manifest, tag);
    const outcomes = await this.#deleter.deleteTags(name(repo), new Map([[tag, digest(manifest)]]));
    expect(outcomes.get(tag), `${repo}:${tag}`).toEqual({ kind: "deleted" });
  }

  async deleteManifest(repo: string, manifest: PushedManifest): Promise<void> {
    await this.#journal(repo, manifest);
    expect(await this.#client.deleteManifest(name(repo), digest(manifest))).toEqual({ kind: "deleted" });
  }

  async #journal(repo: string, manifest: PushedManifest, tag?: string): Promise<void> {
    this.records.push({
      runId: "20260301T120000Z-e2e", time: new Date().toISOString(), repository: name(repo), digest: digest(manifest),
      mediaType: manifest.mediaType, manifest: manifest.bytes.toString("base64"), ...(tag ? { tag } : {}),
    });
    await writeFile(journal, this.records.map((record) => JSON.stringify(record) + "\n").join(""));
  }
}

beforeAll(async () => {
  env = await startEnvironment();
  dispatcher = createDispatcher();
  creds = await credentialsFile(env, ROOT);
  journal = join(env.dir, "journal.jsonl");
  const ctx = env.pushContext(ROOT);
  image = await pushImage(ctx, APP, { tag: "v1", seed: 1, layers: 2 });
  await tagManifest(ctx, APP, "stable", image);
  await tagManifest(ctx, APP, "latest", image);
  untagged = await pushImage(ctx, APP, { tag: "v2", seed: 2, format: "oci" });
  moved = await pushImage(ctx, APP, { tag: "v3", seed: 3 });
  multi = await pushMultiArch(ctx, MULTI, { seed: 4, tag: "multi" });

  const cleaner = new Cleaner();
  await cleaner.deleteTag(APP, "v1", image);
  await cleaner.deleteTag(APP, "stable", image);
  await cleaner.deleteTag(APP, "v2", untagged);
  await cleaner.deleteTag(APP, "v3", moved);
  await cleaner.deleteTag(MULTI, "multi", multi.index);
  await cleaner.deleteManifest(APP, untagged);
  await cleaner.deleteManifest(MULTI, multi.index);
  for (const child of multi.children) await cleaner.deleteManifest(MULTI, child);
  pushedSince = await pushImage(ctx, APP, { tag: "v3", seed: 5 });

  for (const tag of ["v1", "stable", "v2"]) expect(await resolved(APP, tag)).toBeUndefined();
  expect(await resolved(APP, "latest")).toBe(image.digest);
  expect(await resolved(APP, "v3")).toBe(pushedSince.digest);
  expect(await hasRevision(env, APP, untagged.digest)).toBe(false);
  expect(await hasRevision(env, MULTI, multi.index.digest)).toBe(false);
});

afterAll(async () => {
  await dispatcher?.close();
  await env?.stop();
});

describe("restore of journaled tags", () => {
  it("dry run says which tags it would put back and which it would leave alone, and changes nothing", async () => {
    const result = await restore(["-n"]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Would restore tag")).toEqual([
      tagLine("Would restore", MULTI, "multi", multi.index), tagLine("Would restore", APP, "stable", image),
      tagLine("Would restore", APP, "v1", image), tagLine("Would restore", APP, "v2", untagged),
    ].sort());
    expect(linesStarting(result.stdout, "Skipped tag")).toEqual([
      `${tagLine("Skipped", APP, "v3", moved)}: it points at ${pushedSince.digest} now (pushed again since), so it was left alone`,
    ]);
    expect(result.stdout).toMatch(/Tags that would be restored\s+4\n/);
    expect(result.stdout).toMatch(/Tags skipped \(pushed again since\)\s+1\n/);
    for (const tag of ["v1", "stable", "v2"]) expect(await resolved(APP, tag)).toBeUndefined();
    expect(await hasRevision(env, APP, untagged.digest)).toBe(false);
  });

  it("refuses an invalid --tag, and --tag values matching nothing, with exit 2", async () => {
    const invalid = await restore(["--tag", `${APP}:v1`, "-n"]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain(`Invalid --tag "${APP}:v1"`);
    const nothing = await restore(["--tag", "never-deleted", "-n"]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("matches the --repository/--digest/--tag filters");
  });

  it("--tag puts back only that tag; the registry resolves it to the same digest again and skopeo pulls it", async () => {
    const result = await restore(["--tag", "stable,nope"]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`Warning: --tag nope is not in ${journal}`);
    expect(linesStarting(result.stdout, "Restored")).toEqual([tagLine("Restored", APP, "stable", image)]);
    expect(await resolved(APP, "stable")).toBe(image.digest);
    expect(await resolved(APP, "v1")).toBeUndefined();
    const served = await getServed(env, ROOT, APP, "stable");
    expect(served.bytes.equals(image.bytes)).toBe(true);
    expect(served.mediaType).toBe(image.mediaType);
    await skopeoCopyAll(`docker://${env.registry.host}/${APP}:stable`, `${ROOT.username}:${ROOT.secret}`, join(env.dir, "copies", "stable"));
  });

  it("restores the rest: manifests deleted too come back first, a tag pushed again is left alone", async () => {
    const result = await restore([]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    const at = (line: string): number => {
      expect(lines, line).toContain(line);
      return lines.indexOf(line);
    };
    expect(at(`Restored image ${untagged.digest} in repository ${APP}`)).toBeLessThan(at(tagLine("Restored", APP, "v2", untagged)));
    const index = at(`Restored image ${multi.index.digest} in repository ${MULTI}`);
    for (const child of multi.children) expect(at(`Restored image ${child.digest} in repository ${MULTI}`)).toBeLessThan(index);
    expect(index).toBeLessThan(at(tagLine("Restored", MULTI, "multi", multi.index)));
    expect(at(tagLine("Restored", APP, "v1", image))).toBeGreaterThan(0);
    expect(at(tagLine("Already present:", APP, "stable", image))).toBeGreaterThan(0);
    expect(linesStarting(result.stdout, "Skipped tag")).toHaveLength(1);
    expect(result.stdout).toMatch(/Tags restored\s+3\n/);
    expect(result.stdout).toMatch(/Tags already present\s+1\n/);

    expect(await resolved(APP, "v1")).toBe(image.digest);
    expect(await resolved(APP, "v2")).toBe(untagged.digest);
    expect(await resolved(MULTI, "multi")).toBe(multi.index.digest);
    expect(await resolved(APP, "v3")).toBe(pushedSince.digest);
    const pull = `${ROOT.username}:${ROOT.secret}`;
    for (const [repo, tag, manifest] of [[APP, "v1", image], [APP, "v2", untagged], [MULTI, "multi", multi.index]] as const) {
      const ref = `docker://${env.registry.host}/${repo}:${tag}`;
      expect(Buffer.from(await skopeoInspectRaw(ref, pull)).equals(manifest.bytes), ref).toBe(true);
      await skopeoCopyAll(ref, pull, join(env.dir, "copies", tag));
    }
  });

  it("run again, as JSON: every tag already present but the one pushed since", async () => {
    const result = await restore(["--json"]);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as {
      selectedTags: number; tagTotals: Record<string, number>;
      tags: Array<{ repository: string; tag: string; digest: string; kind: string; current?: string }>;
    };
    expect(json.selectedTags).toBe(5);
    expect(json.tagTotals).toEqual({ restored: 0, "would-restore": 0, "already-present": 4, skipped: 1, failed: 0 });
    expect(json.tags.find((t) => t.tag === "v3")).toMatchObject({
      repository: APP, digest: moved.digest, kind: "skipped", current: pushedSince.digest,
    });
  });
});
