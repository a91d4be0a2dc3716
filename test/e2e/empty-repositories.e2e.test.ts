/**
 * --delete-empty-repositories end to end: the built CLI against the real registry and the GitLab
 * stand-in, whose REST API records each repository when push is granted there and answers the
 * DELETE with 202, removing the record a moment later, as GitLab does (GITLAB.md §13).
 *
 * Four repositories of group/project, every manifest pushed 30 days ago unless said otherwise:
 * - old: untagged manifests only: the run deletes them, then the repository in GitLab;
 * - expired: tags old-1 and old-2, expired by retention (`--keep-n 0`), then their manifests: deleted too;
 * - young: an old untagged manifest (deleted) and one pushed just now (kept by --min-age): stays;
 * - tagged: tag v1 (the retention regex does not match it) and an old untagged manifest: stays.
 */
import { readFile, utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage } from "../helpers/images.js";
import { hasRevision, linesStarting, readJournalLines, revisionLink } from "../helpers/registry-state.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { tagCurrentLinkPath } from "../helpers/storage-tree.js";

const DAY_MS = 86_400_000;
const OLD = "group/project/old";
const EXPIRED = "group/project/expired";
const YOUNG = "group/project/young";
const TAGGED = "group/project/tagged";
/** Retention that expires old-* tags only, with nothing to stop it at 100% of a repository. */
const RULES = ["--keep-n", "0", "--name-regex-delete", "old-.*", "--max-delete", "100%", "--delete-empty-repositories"];

let env: Environment;
let token: string;
let password: string;
let youngDigest: string;

async function age(path: string): Promise<void> {
  const when = new Date(Date.now() - 30 * DAY_MS);
  await utimes(path, when, when);
}

async function seed(): Promise<void> {
  const ctx = env.pushContext(ROOT);
  for (const seedNumber of [1, 2]) await age(revisionLink(env, OLD, (await pushImage(ctx, OLD, { seed: seedNumber })).digest));
  for (const [tag, seedNumber] of [["old-1", 11], ["old-2", 12]] as const) {
    await age(revisionLink(env, EXPIRED, (await pushImage(ctx, EXPIRED, { seed: seedNumber, tag })).digest));
    await age(tagCurrentLinkPath(env.registry.storageRoot, EXPIRED, tag));
  }
  await age(revisionLink(env, YOUNG, (await pushImage(ctx, YOUNG, { seed: 21 })).digest));
  youngDigest = (await pushImage(ctx, YOUNG, { seed: 22 })).digest;
  await age(revisionLink(env, TAGGED, (await pushImage(ctx, TAGGED, { seed: 31, tag: "v1" })).digest));
  await age(revisionLink(env, TAGGED, (await pushImage(ctx, TAGGED, { seed: 32 })).digest));
}

function cleanup(credentials: string, args: string[], journal = "journal.jsonl"): Promise<CliResult> {
  return runCli([...environmentArgs(env, credentials), "--journal", join(env.dir, journal), ...args]);
}

/** GitLab's repository ids by path, as the stand-in records them now. */
function records(): Map<string, number> {
  return new Map(env.gitlab.repositoryRecords().map((record) => [record.path, record.id]));
}

function repositoryDeletes(): Array<{ project?: string; repositoryId?: number; status: number }> {
  return env.gitlab.apiLog.filter((r) => r.endpoint === "registry-repository" && r.method === "DELETE")
    .map(({ project, repositoryId, status }) => ({ project, repositoryId, status }));
}

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project", members: {} }] });
  token = await credentialsFile(env, ROOT_TOKEN);
  password = await credentialsFile(env, ROOT, "password");
  await seed();
});

afterAll(async () => {
  await env?.stop();
});

describe("--delete-empty-repositories", () => {
  it("GitLab recorded each repository when the pushes were granted", () => {
    expect([...records().keys()]).toEqual([EXPIRED, OLD, TAGGED, YOUNG]);
  });

  it("with a password: exit 2, explains that it needs a token with api, deletes nothing", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    const result = await cleanup(password, RULES);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/--delete-empty-repositories deletes repositories through GitLab's REST API, which takes personal access tokens only/);
    expect(result.stderr).toMatch(/personal access token with the api scope/);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
    expect(repositoryDeletes()).toEqual([]);
  });

  it("a dry run lists the repositories it would delete, says restore cannot bring them back, deletes nothing", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    env.gitlab.resetStats();
    const result = await cleanup(token, [...RULES, "-n"]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Would delete repository")).toEqual([
      `Would delete repository ${EXPIRED} (GitLab's record of it cannot be restored)`,
      `Would delete repository ${OLD} (GitLab's record of it cannot be restored)`,
    ]);
    expect(result.stdout).toMatch(/Repositories to delete in GitLab\s+2\b/);
    expect(result.stdout).toMatch(/restore cannot bring back/);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
    expect(repositoryDeletes()).toEqual([]);
    expect([...records().keys()]).toEqual([EXPIRED, OLD, TAGGED, YOUNG]);
  });

  it("deletes, through GitLab's REST API, exactly the repositories the run emptied", async () => {
    const ids = records();
    env.gitlab.resetStats();
    const output = join(env.dir, "report.json");
    const result = await cleanup(token, [...RULES, "--output", output]);
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Deleted repository")).toEqual([
      `Deleted repository ${EXPIRED} (GitLab will finish removing it)`,
      `Deleted repository ${OLD} (GitLab will finish removing it)`,
    ]);
    expect(result.stdout).toMatch(/Repositories deleted in GitLab\s+2\b/);
    expect(result.stdout).toMatch(/GitLab deletes repositories in the background/);
    // Its manifests went first, through the registry, as in any run; the young one stays.
    expect(linesStarting(result.stdout, "Deleted tag")).toHaveLength(2);
    expect(linesStarting(result.stdout, `Deleted image`).filter((line) => line.endsWith(OLD))).toHaveLength(2);
    expect(await hasRevision(env, YOUNG, youngDigest)).toBe(true);
    expect(repositoryDeletes().sort((a, b) => a.repositoryId! - b.repositoryId!)).toEqual(
      [EXPIRED, OLD].map((path) => ({ project: "group/project", repositoryId: ids.get(path), status: 202 }))
        .sort((a, b) => a.repositoryId! - b.repositoryId!),
    );
    // Asynchronous: the records go once GitLab's worker has run; the others stay.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect([...records().keys()]).toEqual([TAGGED, YOUNG]);
    const journal = await readJournalLines(join(env.dir, "journal.jsonl")) as unknown as Array<Record<string, unknown>>;
    expect(journal.filter((line) => line.deletedRepository === true).map((line) => [line.repository, line.project, line.gitlabId]).sort())
      .toEqual([[EXPIRED, "group/project", ids.get(EXPIRED)], [OLD, "group/project", ids.get(OLD)]]);
    const document = JSON.parse(await readFile(output, "utf8")) as { emptyRepositories: { repositories: Array<{ repository: string; outcome: string }> } };
    expect(document.emptyRepositories.repositories.map((r) => [r.repository, r.outcome])).toEqual([[EXPIRED, "deleted"], [OLD, "deleted"]]);
  });

  it("restore says GitLab's record cannot be restored", async () => {
    const result = await runCli(["restore", join(env.dir, "journal.jsonl"), "-n", "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", token]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Cannot restore GitLab's record of repository ${OLD} (project group/project, id`);
    expect(result.stdout).toMatch(/GitLab records \(cannot be restored\)\s+2\b/);
  });

  it("a second run sends nothing: GitLab no longer records them, and the others are not empty", async () => {
    env.gitlab.resetStats();
    const result = await cleanup(token, [...RULES, "-v"], "second.jsonl");
    expect(result.code, result.stderr).toBe(0);
    expect(linesStarting(result.stdout, "Not in GitLab: repository").length).toBe(2);
    expect(repositoryDeletes()).toEqual([]);
  });
});
