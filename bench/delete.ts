/**
 * Scenarios 2, 3 and 5 on the real registry: the tool (the built CLI) deleting the older half of
 * the candidates of a generated storage, against a reference loop sending the same DELETEs with
 * pre-fetched tokens at the same concurrency; the /jwt/auth requests it made; then, on a fresh
 * copy whose tokens are shortened to outlive, a run deleting every candidate.
 */
import { gracePolicy } from "../src/core/policy.js";
import { readFile } from "node:fs/promises";
import { Agent, request } from "undici";
import { planRepository } from "../src/core/plan.js";
import type { RepositoryName } from "../src/core/repository-name.js";
import { forEachBounded } from "../src/execute/pool.js";
import { FilesystemStorageReader } from "../src/storage/filesystem-reader.js";
import { ROOT } from "../test/helpers/environment.js";
import { fetchToken } from "../test/helpers/registry-http.js";
import { cliArgs, runCliMeasured, type CliRun } from "./cli-run.js";
import { startServers, type BenchServers, type CachedStorage } from "./environment.js";
import { HALF_TIME } from "./generator.js";
import type { RepositoryModel } from "./model.js";

export interface DeleteResults {
  candidates: number;
  repositories: number;
  reference: { deleted: number; ms: number; perSecond: number; registryCpuMs: number };
  tool: CliRun & { deleted: number; deleteMs: number; perSecond: number; authRequests: number; registryCpuMs: number };
  /** Scenario 5: every candidate of a fresh copy, with short-lived tokens. */
  expiry?: CliRun & { deleted: number; expected: number; authRequests: number; lifetimeSeconds: number };
}

export interface DeleteOptions {
  concurrency: number;
  /** Token lifetime for scenario 5; 0 skips it. */
  expirySeconds: number;
  log: (line: string) => void;
}

type Item = { name: RepositoryName; digest: string };

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** The --min-age that keeps what was pushed after HALF_TIME, in whole minutes as a user would type it. */
export function halfMinAge(): { flag: string; ms: number } {
  const minutes = Math.ceil((Date.now() - HALF_TIME) / 60_000);
  return { flag: `${minutes}m`, ms: minutes * 60_000 };
}

export async function deleteScenarios(storage: CachedStorage, models: RepositoryModel[], options: DeleteOptions): Promise<DeleteResults> {
  const minAge = halfMinAge();
  let servers = await startServers(storage.root, models);
  let reference: DeleteResults["reference"];
  let items: Item[];
  try {
    items = await plannedDeletes(servers.storageRoot, minAge.ms);
    options.log(`  ${items.length} candidates older than ${minAge.flag}; reference loop, concurrency ${options.concurrency}`);
    reference = await referenceDeletes(servers, items, options.concurrency);
  } finally {
    await servers.stop();
  }
  servers = await startServers(storage.root, models);
  let results: DeleteResults;
  try {
    // Recomputed now: the same cutoff (HALF_TIME, to the minute) as the reference's list.
    const toolMinAge = halfMinAge().flag;
    options.log(`  the tool (CLI) on a fresh copy, --min-age ${toolMinAge} --concurrency ${options.concurrency}`);
    const args = await cliArgs(servers, ["--min-age", toolMinAge, "--concurrency", String(options.concurrency), "--yes"]);
    const cpuBefore = await processCpuMs(servers.registry.pid());
    const run = await runCliMeasured(args, servers.dir);
    const registryCpuMs = (await processCpuMs(servers.registry.pid())) - cpuBefore;
    const deleted = run.counts.Deleted ?? 0;
    const deleteMs = (run.lastOutcomeMs ?? 0) - (run.firstOutcomeMs ?? 0);
    const tool = {
      ...run, deleted, deleteMs, perSecond: deleted / (deleteMs / 1000), authRequests: servers.gitlab.authRequests, registryCpuMs,
    };
    results = { candidates: items.length, repositories: new Set(items.map((i) => i.name)).size, reference, tool };
  } finally {
    await servers.stop();
  }
  if (options.expirySeconds === 0) return results;
  // Every candidate of a fresh copy: the run must outlast a token and the registry's 60 s leeway
  // after it, and the rest of M alone was gone in 67-70 s (also at 4 DELETEs in flight).
  servers = await startServers(storage.root, models, { expirySeconds: options.expirySeconds });
  try {
    results.expiry = await expiryRun(servers, storage.summary.candidates, options);
  } finally {
    await servers.stop();
  }
  return results;
}

/** What the tool's plan deletes at this grace period, repository by repository in name order. */
async function plannedDeletes(root: string, minAgeMs: number): Promise<Item[]> {
  const reader = new FilesystemStorageReader(root);
  const byRepository: Item[][] = [];
  const now = Date.now();
  await forEachBounded(reader.listRepositories(() => {}), 8, async (name) => {
    const plan = planRepository(await reader.readRepository(name), { now, policy: gracePolicy(minAgeMs) });
    byRepository.push(plan.candidates.map(({ digest }) => ({ name, digest })));
  });
  return byRepository.filter((list) => list.length > 0).sort((a, b) => (a[0]!.name < b[0]!.name ? -1 : 1)).flat();
}

/**
 * The reference: a token per repository fetched beforehand (one scope each: the smallest JWT the
 * registry can check), one keep-alive pool, `concurrency` DELETEs in flight down the list.
 */
async function referenceDeletes(servers: BenchServers, items: Item[], concurrency: number): Promise<DeleteResults["reference"]> {
  const tokens = new Map<string, string>();
  await forEachBounded([...new Set(items.map((item) => item.name))], 8, async (name) => {
    tokens.set(name, await fetchToken(servers.gitlab.realm, ROOT, [`repository:${name}:pull,delete`]));
  });
  const dispatcher = new Agent({ connections: concurrency });
  let deleted = 0;
  const failures: string[] = [];
  const cpuBefore = await processCpuMs(servers.registry.pid());
  const started = performance.now();
  await forEachBounded(items, concurrency, async ({ name, digest }) => {
    const response = await request(`${servers.registry.url}/v2/${name}/manifests/${digest}`, {
      method: "DELETE", dispatcher, headers: { authorization: `Bearer ${tokens.get(name)}` },
    });
    await response.body.dump();
    if (response.statusCode === 202) deleted++;
    else if (failures.length < 5) failures.push(`${name}@${digest}: ${response.statusCode}`);
  });
  const ms = performance.now() - started;
  const registryCpuMs = (await processCpuMs(servers.registry.pid())) - cpuBefore;
  await dispatcher.close();
  if (failures.length > 0) throw new Error(`the reference loop failed to delete: ${failures.join(", ")}`);
  return { deleted, ms, perSecond: deleted / (ms / 1000), registryCpuMs };
}

/** User + system CPU time a process has used so far (Linux /proc), 0 when unknown. */
export async function processCpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name in parentheses; utime and stime are fields 14 and 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) || 0) + (Number(fields[12]) || 0)) * (1000 / CLOCK_TICKS);
}

/** Scenario 5: every candidate, on servers whose tokens expire mid-run. */
async function expiryRun(servers: BenchServers, expected: number, options: DeleteOptions): Promise<NonNullable<DeleteResults["expiry"]>> {
  options.log(`  a fresh copy, all ${expected} candidates with ${options.expirySeconds} s tokens, --min-age 0`);
  const args = await cliArgs(servers, ["--min-age", "0", "--concurrency", String(options.concurrency), "--yes"]);
  const run = await runCliMeasured(args, servers.dir);
  return { ...run, deleted: run.counts.Deleted ?? 0, expected, authRequests: servers.gitlab.authRequests, lifetimeSeconds: options.expirySeconds };
}
