/**
 * Runs that end badly (issue 14 §2), with the built CLI against the real registry: a journal that
 * cannot be written after it opened (/dev/full, a real device: open succeeds, every write is
 * ENOSPC), piped and on a terminal; and a stdout whose reader goes away after the first line
 * (`… | head -1`), which must not change what is deleted.
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { hasRevision, linesStarting, readJournalLines } from "../helpers/registry-state.js";
import { CLI, credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let creds: string;
let serial = 0;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project", members: {} }] });
  creds = await credentialsFile(env, ROOT);
});

afterAll(async () => {
  await env?.stop();
});

/** Fresh repositories under group/project, each with `perRepository` untagged manifests (and `latest`). */
async function pushRepositories(count: number, perRepository: number): Promise<string[]> {
  const prefix = `group/project/bad${++serial}`;
  const repos = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const [index, repo] of repos.entries()) {
    await pushTagHistory(env.pushContext(ROOT), repo, "latest", perRepository + 1, { seed: serial * 10_000 + index * 100 });
  }
  return repos;
}

/** The revision links on disk, as `repo@digest` (a deleted one leaves its folder, not its link). */
async function revisions(repos: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const repo of repos) {
    const dir = join(env.registry.storageRoot, "docker/registry/v2/repositories", repo, "_manifests/revisions/sha256");
    for (const hex of await readdir(dir)) {
      if (await hasRevision(env, repo, `sha256:${hex}`)) found.add(`${repo}@sha256:${hex}`);
    }
  }
  return found;
}

/** Arguments for a run over the given repositories only. */
function args(repos: string[], ...extra: string[]): string[] {
  return [
    ...environmentArgs(env, creds), "--min-age", "0", "--journal", join(env.dir, `journal-${++serial}.jsonl`),
    ...repos.flatMap((repo) => ["--repository", repo]), ...extra,
  ];
}

/** Runs the CLI inside a pseudo-terminal (util-linux `script`); `timedOut` when it had to be killed. */
function runOnTerminal(cliArgs: string[], timeoutMs: number): Promise<{ code: number; screen: string; timedOut: boolean }> {
  const quoted = [process.execPath, CLI, ...cliArgs].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    execFile("/usr/bin/script", ["-qefc", quoted, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TERM: "xterm-256color", NO_COLOR: "1" },
      timeout: timeoutMs, killSignal: "SIGKILL",
    }, (error, stdout) => resolve({
      code: error ? Number(error.code ?? 1) : 0, screen: stdout, timedOut: error?.killed === true,
    }));
  });
}

/**
 * Runs `cli … | head -1` in bash: a real pipe whose reader exits after the first line, as in a
 * cron line. Resolves with the CLI's own exit code (PIPESTATUS), head's output and the CLI's stderr.
 */
function pipedIntoHead(cliArgs: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("/bin/bash", ["-c", '"$@" | head -1; exit "${PIPESTATUS[0]}"', "bash", process.execPath, CLI, ...cliArgs], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" }, timeout: 120_000,
    }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

const JOURNAL_FAILED = "Stopped: Could not write the journal /dev/full (ENOSPC: no space left on device), so the run stopped deleting";

describe("a journal that cannot be written after it opened (--journal /dev/full)", () => {
  it("piped: stops deleting at once, says why, prints the summary and exits 1", async () => {
    const repos = await pushRepositories(2, 4);
    const before = await revisions(repos);
    const started = performance.now();
    const result = await runCli([...args(repos), "--journal", "/dev/full"]);
    const seconds = (performance.now() - started) / 1000;
    // Before the fix: exit 13 (a promise never settled) and no summary.
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^Summary$/m);
    expect(result.stdout).toMatch(/^\s+Deleted\s+0$/m);
    expect(result.stdout).toContain(JOURNAL_FAILED);
    expect(result.stdout).toContain("Free space on that disk or choose another place with --journal <path>");
    expect(result.stdout).toContain("Nothing had been deleted yet.");
    expect(result.stdout).not.toContain("Deleted image");
    expect(result.stderr).not.toContain("Unexpected error");
    // Nothing is deleted whose record is not on disk: every revision is still there.
    expect(await revisions(repos)).toEqual(before);
    expect(seconds).toBeLessThan(30);
  });

  it("on a terminal: ends by itself with the summary and exit 1 (it hung, deaf to SIGTERM)", async () => {
    const repos = await pushRepositories(2, 4);
    const before = await revisions(repos);
    const { code, screen, timedOut } = await runOnTerminal([...args(repos, "--yes"), "--journal", "/dev/full"], 60_000);
    expect(timedOut, `hung; the terminal last showed: ${screen.slice(-300)}`).toBe(false);
    expect(code, screen).toBe(1);
    expect(screen).toContain(JOURNAL_FAILED);
    expect(screen).toMatch(/Deleted\s+0/);
    expect(await revisions(repos)).toEqual(before);
  });
});

describe("stdout closed after the first line (`… | head -1`)", () => {
  it("deletes exactly what a run with stdout open deletes, says so once on stderr, and exits 1", async () => {
    const repos = await pushRepositories(3, 15);
    const before = await revisions(repos);
    // The dry run, stdout open, prints exactly what a real run deletes.
    const dry = await runCli(args(repos, "-n"));
    expect(dry.code, dry.stderr).toBe(0);
    const planned = linesStarting(dry.stdout, "Would delete image ").map((line) => {
      const [, digest, repo] = /^Would delete image (\S+) in repository (\S+)$/.exec(line)!;
      return `${repo}@${digest}`;
    });
    expect(planned).toHaveLength(45);

    const run = args(repos);
    const journal = run[run.lastIndexOf("--journal") + 1]!;
    const result = await pipedIntoHead(run);
    expect(result.stdout).toMatch(/^Deleted image sha256:[0-9a-f]{64} in repository group\/project\/bad\d+-\d\n$/);

    // Before the fix: exit 0 after the first EPIPE, with most manifests still on disk.
    expect(result.code, result.stderr).toBe(1);
    const after = await revisions(repos);
    expect([...before].filter((r) => !after.has(r)).sort()).toEqual([...planned].sort());
    expect((await readJournalLines(journal)).map((l) => `${l.repository}@${l.digest}`).sort()).toEqual([...planned].sort());
    const notices = result.stderr.split("\n").filter((line) => line.startsWith("Warning: Standard output was closed"));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain("The run went on to the end all the same");
    expect(notices[0]).toContain("the summary included, was not shown");
    expect(result.stderr).not.toContain("Could not delete");
  });
});
