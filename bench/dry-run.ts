/**
 * Scenario 6 (issue 15): the built CLI's dry run, as an administrator runs it against the real
 * registry and the GitLab stand-in, against the floor: the plain synchronous walk of
 * sync-walk.ts, in its own process. Both are timed from outside (spawn to exit, node's start
 * included on both sides), CPU time and peak RSS come from each child's resource usage. Rounds
 * alternate reference and tool; warm rounds run after a warm-up walk, cold rounds drop the page
 * cache before each child (root only; skipped with a note where the machine does not allow it).
 */
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { cliArgs, runCliMeasured, type CliRun } from "./cli-run.js";
import { modelsOf, startServers, type CachedStorage } from "./environment.js";
import type { SizeName } from "./model.js";
import type { BenchRow } from "./s3.js";
import type { SyncWalkResult } from "./sync-walk.js";

const SYNC_WALK = join(fileURLToPath(new URL(".", import.meta.url)), "sync-walk.js");

export interface DryRunOptions {
  rounds: number;
  /** Also cold rounds (page cache dropped before each child), when the machine allows it. */
  cold: boolean;
  log: (line: string) => void;
  /** Another build's `dist/cli/main.js` to run instead of this checkout's (A/B of two builds). */
  cli?: string;
}

interface Measured {
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
}

/** Runs the floor as a child; wall time from outside. */
export async function referenceWalk(root: string): Promise<Measured & SyncWalkResult> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, [SYNC_WALK, root], { maxBuffer: 1 << 20 });
  const wallMs = performance.now() - started;
  return { ...(JSON.parse(stdout) as SyncWalkResult), wallMs };
}

/** Drops the page cache, dentries and inodes; false where the machine does not allow it. */
export function dropCaches(): boolean {
  try {
    // Written-back first, so that dirty pages of other work do not stay cached.
    execFileSync("sync");
    writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    return true;
  } catch {
    return false;
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Warm (and cold) rounds of the CLI dry run against the synchronous walk, with the rows they give. */
export async function dryRunScenario(size: SizeName, storage: CachedStorage, seed: number, options: DryRunOptions): Promise<BenchRow[]> {
  const { log } = options;
  const servers = await startServers(storage.root, modelsOf(size, seed), { copy: false });
  const expected = storage.summary.candidates;
  const rows: BenchRow[] = [];
  try {
    const tool = async (): Promise<CliRun> => {
      const run = await runCliMeasured(await cliArgs(servers, ["--dry-run", "--min-age", "0"]), servers.dir, options.cli);
      if (run.code !== 0 || (run.counts.Would ?? 0) !== expected) {
        throw new Error(`the CLI dry run exited ${run.code} with ${run.counts.Would ?? 0} would-delete lines (the model says ${expected}): ${run.tail.join("\n")}`);
      }
      return run;
    };
    log(`  warm-up: synchronous walk of ${size}`);
    const warmUp = await referenceWalk(storage.root);
    if (warmUp.manifests !== storage.summary.manifests) throw new Error(`the walk read ${warmUp.manifests} manifests, the model says ${storage.summary.manifests}`);
    const modes: Array<"warm" | "cold"> = ["warm"];
    if (options.cold) {
      if (dropCaches()) modes.push("cold");
      else log("  cold rounds skipped: the page cache cannot be dropped here (needs root and a writable /proc/sys/vm/drop_caches)");
    }
    for (const mode of modes) {
      const reference: Measured[] = [];
      const cli: Measured[] = [];
      for (let round = 1; round <= options.rounds; round++) {
        if (mode === "cold") dropCaches();
        reference.push(await referenceWalk(storage.root));
        if (mode === "cold") dropCaches();
        cli.push(await tool());
        const [r, t] = [reference.at(-1)!, cli.at(-1)!];
        log(`  ${mode} round ${round}: walk ${seconds(r.wallMs)} (CPU ${seconds(r.cpuMs)}, ${Math.round(r.maxRssKb / 1024)} MB), ` +
          `CLI dry run ${seconds(t.wallMs)} (CPU ${seconds(t.cpuMs)}, ${Math.round(t.maxRssKb / 1024)} MB); ` +
          `ratio ${(t.wallMs / r.wallMs).toFixed(2)}x wall, ${(t.cpuMs / r.cpuMs).toFixed(2)}x CPU`);
      }
      rows.push(...rowsOf(size, mode, cli, reference, storage.summary.manifests));
    }
  } finally {
    await servers.stop();
  }
  return rows;
}

function rowsOf(size: SizeName, mode: "warm" | "cold", cli: Measured[], reference: Measured[], manifests: number): BenchRow[] {
  const max = mode === "warm" ? 1.3 : 1.1;
  const wall = median(cli.map((c) => c.wallMs)) / median(reference.map((r) => r.wallMs));
  const cpu = median(cli.map((c) => c.cpuMs)) / median(reference.map((r) => r.cpuMs));
  const peak = Math.max(...cli.map((c) => c.maxRssKb)) / 1024;
  return [
    {
      scenario: `6 CLI dry run vs sync walk ${size} (${manifests}), ${mode}, wall`, measured: seconds(median(cli.map((c) => c.wallMs))),
      reference: seconds(median(reference.map((r) => r.wallMs))), value: wall, target: `<= ${max}x`, pass: wall <= max,
    },
    {
      scenario: `6 the same, CPU (user + system)`, measured: seconds(median(cli.map((c) => c.cpuMs))),
      reference: seconds(median(reference.map((r) => r.cpuMs))), value: cpu, target: "(reported)", pass: true,
    },
    { scenario: `6 the same, CLI peak RSS`, measured: `${peak.toFixed(0)} MB`, reference: "", value: peak, target: "< 300 MB", pass: peak < 300 },
  ];
}
