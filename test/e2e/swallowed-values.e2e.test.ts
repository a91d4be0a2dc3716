/**
 * A flag that takes a path or a server must not turn a typo into a real run: `--journal -n` once
 * journaled into a file named "-n" and deleted for real; a malformed -g was a network error (exit 1).
 * Each is a usage error (exit 2) naming the flag, and nothing is deleted.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, runCli } from "../helpers/run-cli.js";

let env: Environment;
let creds: string;
let baseline: string[];

/** The working command line without --journal, then `extra`. */
function cli(...extra: string[]): string[] {
  return [
    "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-p", env.registry.storageRoot,
    "--registry-config", env.registry.configPath, "-c", creds, "--min-age", "0", "-y", ...extra,
  ];
}

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project" }] });
  creds = await credentialsFile(env, ROOT);
  await pushTagHistory(env.pushContext(), "group/project", "latest", 4, { seed: 7 });
  baseline = await revisionLinks(env.registry.storageRoot);
});
afterAll(async () => {
  await env?.stop();
});

describe("a value that is really the next flag, or not a server", () => {
  it.each([
    ["--journal -n", ["--journal", "-n"], '--journal "-n" looks like a flag, not a path', "--journal=./-n"],
    ["--output --json", ["--output", "--json"], '--output "--json" looks like a flag, not a path', "--output=./--json"],
    ["-c -n", ["-c", "-n"], '-c/--credentials-file "-n" looks like a flag', "--credentials-file=./-n"],
    ["--policy-file -n", ["--policy-file", "-n"], '--policy-file "-n" looks like a flag', "--policy-file=./-n"],
    ["-g ht!tp://bad host", ["-g", "ht!tp://bad host"], 'Invalid -g/--gitlab-server "ht!tp://bad host"', "e.g. gitlab.example.com"],
    ["-r https://reg!stry", ["-r", "https://reg!stry"], 'Invalid -r/--registry-server "https://reg!stry"', "e.g. registry.example.com"],
  ])("%s: exit 2 naming the flag, nothing deleted", async (_name, extra, message, hint) => {
    const cwd = process.cwd();
    const result = await runCli(cli(...extra));
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(hint);
    expect(result.code).toBe(2);
    expect(existsSync(join(cwd, "-n"))).toBe(false);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(baseline);
  });

  it("restore -c -n: exit 2 before the journal is read", async () => {
    const result = await runCli(["restore", join(env.dir, "journal.jsonl"), "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", "-n"]);
    expect(result.stderr).toContain('-c/--credentials-file "-n" looks like a flag, not a path');
    expect(result.code).toBe(2);
  });
});
