/**
 * The push race, end to end: CI keeps pushing while the built CLI deletes hundreds of untagged
 * manifests. The registry has no conditional delete, so a tag pushed onto a candidate between the
 * re-check and its DELETE is removed by that DELETE, and an index pushed then over an old child can
 * lose that child: the CLI must notice and put back what was needed (`Restored …`). Repeated on
 * fresh repositories so the window is hit: after every run, and after garbage collection, every tag
 * pushed during the run resolves to what was pushed last for it and pulls completely. Every push
 * uses a new tag, so "last pushed" is the one push. PUSH_RACE_REPETITIONS=n repeats it n times;
 * PUSH_RACE_NODE_OPTIONS is passed to the CLI as NODE_OPTIONS (e.g. `--import trace.mjs`, to trace a loss).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_ACCEPT } from "../../src/core/media-types.js";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { race, type RaceLog, type RecordedPush } from "../helpers/push-racers.js";
import { pushBatch } from "../helpers/race-setup.js";
import { fetchToken, registryCall } from "../helpers/registry-http.js";
import { garbageCollect } from "../helpers/registry-server.js";
import { credentialsFile, environmentArgs, type CliResult } from "../helpers/run-cli.js";
import { skopeoCopyAll } from "../helpers/skopeo.js";
import { startCli } from "../helpers/spawn-cli.js";

const REPETITIONS = Number(process.env.PUSH_RACE_REPETITIONS ?? 5);
const PER_REPOSITORY = 150;
const CREDS = `${ROOT.username}:${ROOT.secret}`;

let env: Environment;
let creds: string;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project", members: {} }] });
  creds = await credentialsFile(env, ROOT);
});

afterAll(async () => {
  await env?.stop();
});

interface Repetition {
  candidates: number;
  result: CliResult;
  log: RaceLog;
  deleted: number;
  restored: string[];
  jsonRestored: number;
  /** When each `Deleted image` line arrived, by `repo@digest` (performance.now() ms), and when the CLI started. */
  deletedAt: Map<string, number>;
  started: number;
}

/** Pushes the scene, runs the CLI on it while the racers push, and returns what happened. */
async function runRepetition(rep: number): Promise<Repetition> {
  const setup = await pushBatch(env, PER_REPOSITORY, 1_000_000 * (rep + 1));
  const prefix = setup.repos[0]!.replace(/-a$/, "");
  const output = join(env.dir, `report-${rep}.json`);
  const started = performance.now();
  const cli = startCli([
    ...environmentArgs(env, creds), "--min-age", "0", "--repository", `${prefix}-*`,
    "--journal", join(env.dir, `journal-${rep}.jsonl`), "--output", output,
  ], process.env.PUSH_RACE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.PUSH_RACE_NODE_OPTIONS } : {});
  let exited = false;
  void cli.result.then(() => void (exited = true));
  const progress = new Map<string, number>();
  const deletedAt = new Map<string, number>();
  const listeners: Array<(repo: string, digest: string) => void> = [];
  let partial = "";
  cli.child.stdout!.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      const match = /^Deleted image (sha256:[0-9a-f]{64}) in repository (\S+)$/.exec(line);
      if (!match) continue;
      const [, digest, repo] = match as unknown as [string, string, string];
      const at = setup.pushed.get(repo)?.findIndex((m) => m.digest === digest) ?? -1;
      progress.set(repo, Math.max(progress.get(repo) ?? -1, at));
      deletedAt.set(`${repo}@${digest}`, performance.now());
      for (const listener of listeners) listener(repo, digest);
    }
  });
  const log = await race(
    { ctx: env.pushContext(ROOT), candidates: setup.pushed, host: env.registry.host, creds: CREDS, progress, done: () => exited },
    (listener) => listeners.push(listener), `r${rep}`,
  );
  const result = await cli.result;
  const restored = result.stderr.split("\n").filter((line) => line.startsWith("Restored sha256:"));
  const report = JSON.parse(await readFile(output, "utf8").catch(() => "{}")) as { summary?: { repairs?: { restored?: number } } };
  const deleted = result.stdout.split("\n").filter((line) => line.startsWith("Deleted image")).length;
  return { candidates: setup.total, result, log, deleted, restored, jsonRestored: report.summary?.repairs?.restored ?? -1, deletedAt, started };
}

/** The digest `repo:tag` resolves to now (undefined when the registry does not know the tag). */
async function resolve(repo: string, reference: string): Promise<string | undefined> {
  const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${repo}:pull`]);
  const reply = await registryCall(env.registry.url, "GET", `/v2/${repo}/manifests/${reference}`, { token, headers: { accept: MANIFEST_ACCEPT } });
  const digest = reply.headers["docker-content-digest"];
  return reply.status === 200 && typeof digest === "string" ? digest : undefined;
}

/** Every recorded push that does not resolve as pushed, with what happened to its digests, in order. */
async function losses(rep: Repetition): Promise<string[]> {
  const { log: { pushes }, result } = rep;
  const ms = (at: number | undefined): string => (at === undefined ? "?" : `${Math.round(at - rep.started)} ms`);
  const problems: string[] = [];
  for (const push of pushes) {
    const now = await resolve(push.repo, push.tag);
    const missing = [];
    for (const child of push.children) if ((await resolve(push.repo, child)) !== child) missing.push(child);
    if (now === push.digest && missing.length === 0) continue;
    const about = [push.digest, ...push.children].map((d) => d.slice(7, 19));
    const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => about.some((hex) => line.includes(hex)));
    const others = pushes.filter((p) => p !== push && [p.digest, ...p.children].some((d) => d === push.digest || push.children.includes(d)));
    problems.push(`${push.kind} ${push.repo}:${push.tag} -> ${push.digest} (answered at ${ms(push.at)}) now ${now ?? "unknown"}` +
      `${missing.length ? `, children missing: ${missing.join(" ")}` : ""}` +
      `; its Deleted line at ${ms(rep.deletedAt.get(`${push.repo}@${push.digest}`))}` +
      `\n    other pushes onto it: ${others.map((p) => `${p.kind} ${p.tag} at ${ms(p.at)}`).join(", ") || "none"}` +
      `\n    CLI said: ${lines.join("\n    ") || "nothing about it"}`);
  }
  return problems;
}

/** skopeo copies every pushed tag, all platforms; returns the refs that failed and why. */
async function unpullable(pushes: RecordedPush[], rep: number): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < pushes.length; i = next++) {
      const ref = `docker://${env.registry.host}/${pushes[i]!.repo}:${pushes[i]!.tag}`;
      await skopeoCopyAll(ref, CREDS, join(env.dir, `pulled-${rep}`, String(i))).catch((error: Error) => failures.push(error.message));
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return failures;
}

describe("pushing continuously while the CLI deletes", () => {
  it("restores what a push needed, and every tag pushed resolves and pulls after garbage collection", async () => {
    let restoredTotal = 0;
    const failures: string[] = [];
    for (let rep = 0; rep < REPETITIONS; rep++) {
      const repetition = await runRepetition(rep);
      const { candidates, result, log, deleted, restored, jsonRestored } = repetition;
      restoredTotal += restored.length;
      const byKind = (kind: string): number => log.pushes.filter((p) => p.kind === kind).length;
      const problems = await losses(repetition);
      await env.registry.stop();
      await garbageCollect(env.registry.configPath);
      await env.registry.restart();
      const pulls = await unpullable(log.pushes, rep);
      console.log(`repetition ${rep + 1}: ${candidates} candidates, ${deleted} deleted; pushes: ` +
        `${byKind("retag-http")} re-tags over HTTP, ${byKind("retag-skopeo")} re-tags with skopeo (${log.sourceGone} sources gone first), ` +
        `${byKind("index")} indexes, ${byKind("deleted-tag")} tags of just-deleted digests; restored ${restored.length} ` +
        `(JSON ${jsonRestored}); refused ${log.refused.length}; exit ${result.code}` +
        [...log.refused.map((r) => `\n  refused ${r.kind} ${r.repo}:${r.tag} (${r.retried}): ${r.reason}`), ...restored.map((line) => `\n  ${line}`)].join(""));
      const fail = (what: string): void => void failures.push(`repetition ${rep + 1}: ${what}`);
      if (result.code !== 0) fail(`exit ${result.code}:\n${result.stderr}`);
      if (jsonRestored !== restored.length) fail(`JSON summary.repairs.restored ${jsonRestored}, ${restored.length} Restored lines`);
      for (const problem of problems) fail(`lost: ${problem}`);
      for (const pull of pulls) fail(`after garbage collection: ${pull}`);
      // A push refused twice (its child deleted just before) lost nothing: it is printed above, not failed.
    }
    expect(failures).toEqual([]);
    // Proof the window was hit: without the repair, these manifests would have been lost.
    expect(restoredTotal).toBeGreaterThan(0);
  }, 300_000);
});
