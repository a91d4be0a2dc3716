/**
 * Runs the built CLI (dist/cli/main.js) as a child, the way an administrator would, and measures
 * it from outside: wall time, peak RSS (maxrss-hook.ts), and the time of every outcome line, so
 * that the deletion phase can be told from the scan before it.
 */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLI } from "../test/helpers/run-cli.js";
import type { BenchServers } from "./environment.js";

export interface CliRun {
  code: number;
  wallMs: number;
  maxRssKb: number;
  /** User + system CPU time of the CLI process. */
  cpuMs: number;
  /** Outcome lines by their first word ("Deleted", "Would", "Could", "Kept", …). */
  counts: Record<string, number>;
  /** ms after the start of the first and last "Deleted"/"Would delete" line. */
  firstOutcomeMs?: number;
  lastOutcomeMs?: number;
  /** The last lines of stdout (the summary) and of stderr. */
  tail: string[];
  errors: string[];
}

const HOOK = join(fileURLToPath(new URL(".", import.meta.url)), "maxrss-hook.js");

/** The flags pointing the CLI at the bench servers, as root with an `api` PAT. */
export async function cliArgs(servers: BenchServers, extra: string[]): Promise<string[]> {
  const credentials = join(servers.dir, "credentials");
  await writeFile(credentials, "root\nglpat-root-api-token\n");
  await chmod(credentials, 0o600);
  return [
    "-g", servers.gitlab.url, "-r", servers.registry.url, "-k", "-p", servers.storageRoot,
    "--registry-config", servers.registry.configPath, "-c", credentials,
    "--journal", join(servers.dir, `journal-${Date.now()}.jsonl`), ...extra,
  ];
}

/** Spawns the CLI (this checkout's build, or another's `dist/cli/main.js`); never rejects on a non-zero exit. */
export async function runCliMeasured(args: string[], dir: string, cli: string = CLI): Promise<CliRun> {
  const rssFile = join(dir, `maxrss-${process.hrtime.bigint()}.json`);
  const started = performance.now();
  // BENCH_CLI_NODE_ARGS adds node flags to the CLI only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_CLI_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "--import", HOOK, cli, ...args], {
    env: {
      PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", BENCH_MAXRSS_FILE: rssFile,
      // Read by memory-hook.ts when BENCH_CLI_NODE_ARGS preloads it. NODE_OPTIONS is not passed on.
      ...(process.env.BENCH_MEMORY_SAMPLES ? { BENCH_MEMORY_SAMPLES: process.env.BENCH_MEMORY_SAMPLES } : {}),
      // BENCH_CLI_ENV="NAME=value …" adds variables to the CLI's environment, e.g. MALLOC_ARENA_MAX=2.
      ...Object.fromEntries((process.env.BENCH_CLI_ENV ?? "").split(/\s+/).filter(Boolean).map((pair) => [pair.split("=")[0]!, pair.slice(pair.indexOf("=") + 1)])),
      ...(process.env.BENCH_MEMORY_INTERVAL_MS ? { BENCH_MEMORY_INTERVAL_MS: process.env.BENCH_MEMORY_INTERVAL_MS } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result: Omit<CliRun, "code" | "wallMs" | "maxRssKb" | "cpuMs"> = { counts: {}, tail: [], errors: [] };
  const onLine = (line: string, isErr: boolean): void => {
    const word = line.slice(0, line.indexOf(" ") >>> 0);
    if (/^(Deleted|Would|Could|Kept|Already|Skipped) /.test(line)) {
      result.counts[word] = (result.counts[word] ?? 0) + 1;
      if (word === "Deleted" || word === "Would") {
        const at = performance.now() - started;
        result.firstOutcomeMs ??= at;
        result.lastOutcomeMs = at;
      }
      if (word === "Could" && result.errors.length < 5) result.errors.push(line);
      return;
    }
    result.tail.push(isErr ? `stderr: ${line}` : line);
    if (result.tail.length > 40) result.tail.shift();
  };
  lines(child.stdout, (line) => onLine(line, false));
  lines(child.stderr, (line) => onLine(line, true));
  const code = await new Promise<number>((resolve) => child.on("exit", (exit) => resolve(exit ?? 1)));
  const wallMs = performance.now() - started;
  const usage = JSON.parse(await readFile(rssFile, "utf8").catch(() => '{"maxRssKb":0,"cpuMs":0}')) as { maxRssKb: number; cpuMs: number };
  await rm(rssFile, { force: true });
  return { code, wallMs, maxRssKb: usage.maxRssKb, cpuMs: usage.cpuMs, ...result };
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    parts.forEach(onLine);
  });
  stream.on("end", () => rest && onLine(rest));
}
