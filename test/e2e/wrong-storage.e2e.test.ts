/**
 * -p pointing at a copy of the registry's storage: the tags agree, so the cross-check of tag names
 * passes. The first DELETE is then proven on disk before any other is sent: the registry answers
 * 202, the copy still has the link, and the run stops after that one delete, which restore undoes.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let creds: string;
let copy: string;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "team/app", members: {} }, { path: "team/web", members: {} }] });
  await pushTagHistory(env.pushContext(), "team/app", "latest", 6, { seed: 11 });
  await pushTagHistory(env.pushContext(), "team/web", "latest", 6, { seed: 12 });
  creds = await credentialsFile(env, ROOT_TOKEN);
  copy = join(env.dir, "storage-copy");
  await promisify(execFile)("cp", ["-a", env.registry.storageRoot, copy]);
});

afterAll(async () => {
  await env?.stop();
});

describe("-p is a copy of the registry's storage", () => {
  it("stops after the first delete, exit 3, and that delete can be restored", async () => {
    const before = await revisionLinks(env.registry.storageRoot);
    const args = environmentArgs(env, creds).map((a) => (a === env.registry.storageRoot ? copy : a));
    const result = await runCli([...args, "--min-age", "0"]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain("is not the storage of the registry given with -r");
    const after = await revisionLinks(env.registry.storageRoot);
    const gone = before.filter((link) => !after.includes(link));
    expect(gone, result.stdout + result.stderr).toHaveLength(1);
    const journal = (await readFile(join(env.dir, "journal.jsonl"), "utf8")).trim().split("\n");
    expect(journal).toHaveLength(1);

    const restored = await runCli(["restore", join(env.dir, "journal.jsonl"), "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", creds]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(before);
  });
});
