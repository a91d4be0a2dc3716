/**
 * Faults during a real run of the built CLI: registry tokens expiring every second, the registry
 * restarting under the deletes, and Ctrl-C. Nothing may be lost or left unaccounted for: every
 * candidate gets exactly one line, the journal holds every deletion, and a second run finishes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushBatch, type RaceSetup } from "../helpers/race-setup.js";
import { hasRevision, linesStarting, readJournalLines } from "../helpers/registry-state.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { countLines, startCli } from "../helpers/spawn-cli.js";

let env: Environment;
let creds: string;
let runs = 0;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project", members: {} }] });
  creds = await credentialsFile(env, ROOT);
});

afterAll(async () => {
  await env?.stop();
});

/** CLI arguments for a run over everything, with its own journal. */
function args(...extra: string[]): { args: string[]; journal: string } {
  const journal = join(env.dir, `journal-${++runs}.jsonl`);
  return { args: [...environmentArgs(env, creds), "--min-age", "0", "--journal", journal, ...extra], journal };
}

/** Every candidate of `setup` has exactly one outcome line, unless its whole repository was skipped. */
function expectExactAccount(setup: RaceSetup, result: CliResult): void {
  const text = `${result.stdout}\n${result.stderr}`;
  for (const [repo, manifests] of setup.pushed) {
    if (text.includes(`Skipped repository ${repo} (${manifests.length} untagged manifests`)) continue;
    for (const m of manifests) {
      const mentions = text.split("\n").filter((line) => line.includes(`image ${m.digest} in repository ${repo}`));
      expect(mentions, `${repo}@${m.digest}`).toHaveLength(1);
    }
  }
  const summaryDeleted = /^\s+Deleted\s+(\d+)/m.exec(result.stdout)?.[1];
  expect(Number(summaryDeleted)).toBe(countLines(result.stdout, "Deleted image"));
}

/** Every `Deleted image` line is in the journal, and every journal line parses. */
async function expectJournaled(result: CliResult, journal: string): Promise<Set<string>> {
  const journaled = new Set((await readJournalLines(journal)).map((l) => `${l.digest} in repository ${l.repository}`));
  for (const line of linesStarting(result.stdout, "Deleted image ")) {
    expect(journaled.has(line.slice("Deleted image ".length)), line).toBe(true);
  }
  return journaled;
}

/** After the work is done: no candidate is left on disk. */
async function expectAllGone(setup: RaceSetup): Promise<void> {
  for (const [repo, manifests] of setup.pushed) {
    for (const m of manifests) expect(await hasRevision(env, repo, m.digest), `${repo}@${m.digest}`).toBe(false);
  }
}

describe("faults during a run", () => {
  it("renews tokens that expire every second without a single failed deletion", async () => {
    const setup = await pushBatch(env, 200, 10_000);
    env.gitlab.expirySeconds = 1;
    env.gitlab.resetStats();
    const started = performance.now();
    // One request in flight makes the run last several token lifetimes.
    const run = args("--concurrency", "1");
    const result = await runCli(run.args);
    const seconds = (performance.now() - started) / 1000;
    const tokens = env.gitlab.authRequests;
    env.gitlab.expirySeconds = 300;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain("Could not delete");
    expect(countLines(result.stdout, "Deleted image")).toBe(setup.total);
    expect(tokens).toBeGreaterThan(seconds);
    console.log(`expiry 1 s: ${setup.total} deleted in ${seconds.toFixed(1)} s with ${tokens} /jwt/auth requests`);
  });

  it("copes with tokens the registry accepts for only ~3 s (exp 57 s in the past)", async () => {
    const setup = await pushBatch(env, 100, 20_000);
    env.gitlab.expirySeconds = -57;
    env.gitlab.resetStats();
    const result = await runCli(args().args);
    const tokens = env.gitlab.authRequests;
    env.gitlab.expirySeconds = 300;
    expect(result.code, result.stderr).toBe(0);
    expect(countLines(result.stdout, "Deleted image")).toBe(setup.total);
    console.log(`expiry -57 s: ${setup.total} deleted with ${tokens} /jwt/auth requests`);
  });

  it("rides out a registry restart, or accounts for every candidate; a second run finishes", async () => {
    const setup = await pushBatch(env, 150, 30_000);
    const run = args();
    const cli = startCli(run.args);
    await cli.waitForOutput((out) => countLines(out, "Deleted image") >= 10);
    const stoppedAt = performance.now();
    await env.registry.stop();
    await sleep(1000);
    await env.registry.restart();
    const restartedAt = performance.now();
    const result = await cli.result;
    expect([0, 1], result.stderr).toContain(result.code);
    expectExactAccount(setup, result);
    await expectJournaled(result, run.journal);
    const resumed = cli.timeline.find((entry) => entry.at > restartedAt && entry.line.startsWith("Deleted image"));
    console.log(`restart: registry down ${Math.round(restartedAt - stoppedAt)} ms; first delete after it ` +
      `${resumed ? Math.round(resumed.at - stoppedAt) : "never"} ms after the stop; exit ${result.code}; ` +
      `deleted ${countLines(result.stdout, "Deleted image")}, already gone ${countLines(result.stdout, "Already gone")}, ` +
      `failed ${countLines(result.stderr, "Could not delete")} of ${setup.total}`);
    const second = await runCli(args().args);
    expect(second.code, second.stderr).toBe(0);
    await expectAllGone(setup);
  });

  it("on SIGINT finishes requests in flight, journals every deletion, exits 130; a second run finishes", async () => {
    const setup = await pushBatch(env, 150, 40_000);
    const run = args();
    const cli = startCli(run.args);
    await cli.waitForOutput((out) => countLines(out, "Deleted image") >= 20);
    cli.child.kill("SIGINT");
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain("Interrupted");
    expect(result.stdout).toContain("Interrupted: the counts above are what was done before the stop.");
    const deleted = countLines(result.stdout, "Deleted image");
    expect(deleted).toBeLessThan(setup.total);
    const journaled = await expectJournaled(result, run.journal);
    // In-flight requests finished: whatever was journaled was deleted, and nothing else.
    let gone = 0;
    for (const [repo, manifests] of setup.pushed) {
      for (const m of manifests) {
        const isGone = !(await hasRevision(env, repo, m.digest));
        expect(isGone, `${repo}@${m.digest}`).toBe(journaled.has(`${m.digest} in repository ${repo}`));
        if (isGone) gone++;
      }
    }
    expect(gone).toBe(deleted);
    console.log(`SIGINT after 20 deletions: ${deleted} deleted before exiting, ${setup.total - deleted} left`);
    const second = await runCli(args().args);
    expect(second.code, second.stderr).toBe(0);
    expect(countLines(second.stdout, "Deleted image")).toBe(setup.total - deleted);
    await expectAllGone(setup);
  });
});
