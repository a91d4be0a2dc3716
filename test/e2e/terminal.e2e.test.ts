/**
 * On a real terminal (a pty made by util-linux `script`): progress and colour appear; NO_COLOR
 * and --no-color turn colour off. And --gc runs garbage collection and reports what it freed.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { CLI, credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let args: string[];

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "team/app", members: {} }, { path: "team/web", members: {} }] });
  await pushTagHistory(env.pushContext(), "team/app", "latest", 4, { seed: 7, layers: 2, layerSize: 64 * 1024 });
  await pushTagHistory(env.pushContext(), "team/web", "latest", 3, { seed: 70 });
  args = [...environmentArgs(env, await credentialsFile(env, ROOT_TOKEN)), "--min-age", "0"];
});

afterAll(async () => {
  await env?.stop();
});

/** Runs the CLI inside a pseudo-terminal and returns everything the terminal showed. */
function runOnTerminal(cliArgs: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; screen: string }> {
  const quoted = [process.execPath, CLI, ...cliArgs].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    execFile("/usr/bin/script", ["-qefc", quoted, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TERM: "xterm-256color", ...extraEnv },
      timeout: 120_000,
    }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, screen: stdout }));
  });
}

/** SGR colour sequences (cursor movement of the progress display is not colour). */
const COLOUR = /\x1b\[3\dm/;

describe("on a terminal", () => {
  it("shows scan progress; NO_COLOR turns colour off", async () => {
    const { code, screen } = await runOnTerminal([...args, "-n"], { NO_COLOR: "1" });
    expect(code).toBe(0);
    expect(screen).toContain("Scanning 2 repositories");
    expect(screen).toContain("Would delete image sha256:");
    expect(screen).not.toMatch(COLOUR);
  });

  it("--no-color turns colour off too", async () => {
    const { code, screen } = await runOnTerminal([...args, "-n", "--no-color"]);
    expect(code).toBe(0);
    expect(screen).not.toMatch(COLOUR);
  });

  it("deletes with a progress bar and coloured lines", async () => {
    const { code, screen } = await runOnTerminal([...args, "--yes"]);
    expect(code).toBe(0);
    expect(screen).toMatch(/Deleting \[[█░]+\] 5\/5 manifests/);
    expect(screen).toContain("\x1b[32mDeleted image sha256:");
    expect(screen).toMatch(/Deleted\s+5/);
  });
});

describe("--gc", () => {
  it("runs garbage collection after deleting and measures exactly what the estimate said", async () => {
    await pushTagHistory(env.pushContext(), "team/web", "latest", 3, { seed: 170, layerSize: 32 * 1024 });
    const report = `${env.dir}/gc-report.json`;
    const gcCommand = `/usr/bin/docker-registry garbage-collect ${env.registry.configPath}`;
    const result = await runCli([...args, "--gc", "--gc-command", gcCommand, "--yes", "--output", report]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Running garbage collection: ${gcCommand}`);
    expect(result.stdout).toContain("Running garbage collection next (--gc).");
    expect(result.stdout).not.toContain("sudo gitlab-ctl registry-garbage-collect");
    expect(result.stdout).toMatch(/Garbage collection freed [\d.]+ KiB \(\d+ blobs\)/);
    const document = JSON.parse(await readFile(report, "utf8"));
    expect(document.garbageCollection.freed.bytes).toBeGreaterThan(0);
    expect(document.garbageCollection.freed.bytes).toBe(document.space.freedByRun.bytes + document.space.alreadyUnreferenced.bytes);
  });

  it("refuses --gc with --dry-run", async () => {
    const result = await runCli([...args, "--gc", "-n"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--gc runs garbage collection after deleting");
  });
});
