/**
 * Some repositories cannot be read (permission denied, as a non-root user): the run cleans the
 * others, names each skipped directory, and exits 1, because something was not done.
 */
import { chmod } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { repositoryDir } from "../helpers/storage-tree.js";

let env: Environment;
let result: CliResult;
let before: string[];
let closed: string;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/open" }, { path: "group/closed" }] });
  await pushTagHistory(env.pushContext(), "group/open", "latest", 3, { seed: 21 });
  await pushTagHistory(env.pushContext(), "group/closed", "latest", 3, { seed: 22 });
  before = await revisionLinks(env.registry.storageRoot);
  closed = repositoryDir(env.registry.storageRoot, "group/closed");
  await chmod(closed, 0o000);
  const args = [...environmentArgs(env, await credentialsFile(env, ROOT)), "--min-age", "0"];
  // As root bound by file modes: mode 0000 denies for real, as it does for a non-root user.
  result = await runCli(args, { withoutFileCapabilities: true });
  await chmod(closed, 0o755);
});
afterAll(async () => {
  if (closed) await chmod(closed, 0o755).catch(() => undefined);
  await env?.stop();
});

describe("a repository that cannot be read", () => {
  it("is named as skipped, and the run exits 1", () => {
    expect(result.stderr).toContain(`Warning: ${closed}: This directory could not be listed and was skipped: `);
    expect(result.stdout).toMatch(/^Summary/m);
    expect(result.code, result.stderr).toBe(1);
  });

  it("does not stop the others from being cleaned; its own manifests stay", async () => {
    expect(result.stdout.match(/^Deleted image sha256:\S+ in repository group\/open$/gm), `${result.stdout}\n${result.stderr}`).toHaveLength(2);
    const after = await revisionLinks(env.registry.storageRoot);
    expect(after.filter((link) => link.startsWith("group/closed/"))).toEqual(before.filter((link) => link.startsWith("group/closed/")));
  });
});
