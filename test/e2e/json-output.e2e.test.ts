/**
 * What automation sees: --json puts one documented JSON document alone on stdout, human text
 * goes to stderr; piped output carries no colour and no progress bar.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let args: string[];

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "team/app", members: {} }] });
  await pushTagHistory(env.pushContext(), "team/app", "latest", 3, { seed: 42 });
  args = [...environmentArgs(env, await credentialsFile(env, ROOT_TOKEN)), "--min-age", "0"];
});

afterAll(async () => {
  await env?.stop();
});

describe("--json", () => {
  it("prints one JSON document with the documented fields on stdout, text on stderr", async () => {
    const result = await runCli([...args, "-n", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(Object.keys(document).sort()).toEqual([
      "dryRun", "emptyRepositories", "error", "exitCode", "finishedAt", "garbageCollection", "garbageCollectionHazards", "journal", "manifests", "orphans", "repairs",
      "runId", "schemaVersion", "settings", "skippedRepositories", "space", "startedAt", "summary", "tags", "tool", "warnings",
    ]);
    // No retention rule: tags are not touched, and the section says so with null.
    expect(document.tags).toBeNull();
    // Without --delete-empty-repositories, likewise.
    expect(document.emptyRepositories).toBeNull();
    // A healthy storage: nothing garbage collection would stop at.
    expect(document.garbageCollectionHazards).toEqual([]);
    // Nothing was deleted, so nothing a push needed had to be put back.
    expect(document.repairs).toEqual([]);
    expect(document.summary.repairs).toEqual({ restored: 0, failed: 0, unresolved: 0 });
    expect(document.schemaVersion).toBe(1);
    expect(document.dryRun).toBe(true);
    expect(document.exitCode).toBe(0);
    expect(document.summary).toMatchObject({ repositories: 1, manifests: 3, tags: 1, candidates: 2 });
    expect(document.summary.kept).toMatchObject({ tagged: 1 });
    expect(document.summary.outcomes).toMatchObject({ "would-delete": 2, deleted: 0, failed: 0 });
    expect(document.manifests).toHaveLength(2);
    expect(document.manifests[0]).toEqual({ repository: "team/app", digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), outcome: "would-delete", detail: null });
    expect(document.space.freedByRun.bytes).toBeGreaterThan(0);
    expect(document.space.topRepositories[0]).toMatchObject({ name: "team/app", manifests: 2 });
    expect(document.settings).toMatchObject({ username: "root", minAgeSeconds: 0 });
    expect(result.stderr).toContain("Would delete image sha256:");
    expect(result.stdout).not.toContain(ROOT_TOKEN.secret);
  });

  it("reports an error as a document too, with its exit code", async () => {
    const wrongPath = args.map((a) => (a === env.registry.storageRoot ? "/nonexistent/registry" : a));
    const result = await runCli([...wrongPath, "--json"]);
    expect(result.code).toBe(2);
    const document = JSON.parse(result.stdout);
    expect(document.exitCode).toBe(2);
    expect(document.error).toContain("does not exist");
    expect(document.summary).toBeNull();
  });
});

describe("output when piped", () => {
  it("has no colour and no progress escapes, even without NO_COLOR", async () => {
    const result = await runCli([...args, "-n"], { env: { NO_COLOR: "" } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/\x1b\[/);
    expect(result.stdout).toContain("Would delete image");
  });

  it("--quiet prints the summary but no per-manifest lines", async () => {
    const result = await runCli([...args, "-n", "-q"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain("Would delete image");
    expect(result.stdout).toMatch(/Would delete\s+2/);
  });

  it("--verbose also lists every kept manifest with its reason", async () => {
    const result = await runCli([...args, "-n", "-v"]);
    expect(result.stdout).toMatch(/Keep image sha256:[0-9a-f]{64} in repository team\/app: tagged latest/);
  });

  it("takes options from GITLAB_REGISTRY_CLEANUP_* variables", async () => {
    const result = await runCli([...args], { env: { GITLAB_REGISTRY_CLEANUP_DRY_RUN: "1", GITLAB_REGISTRY_CLEANUP_QUIET: "yes" } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Summary (dry run: nothing was deleted)");
    expect(result.stdout).not.toContain("Would delete image");
  });
});
