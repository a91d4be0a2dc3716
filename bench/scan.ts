/**
 * Scenario 1: the tool's scan + plan (src/cleanup.ts runCleanup as a dry run, in process)
 * against a plain reference loop that reads every file the plan needs with the same concurrency
 * and does nothing else. No registry is contacted: that is not scan cost (see toolScan).
 */
import { readFile, readdir, stat } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCleanup } from "../src/cleanup.js";
import type { RepositoryName } from "../src/core/repository-name.js";
import type { TokenProvider } from "../src/gitlab/ports.js";
import type { RegistryApi } from "../src/registry/ports.js";
import { forEachBounded } from "../src/execute/pool.js";
import { DEFAULT_READ_CONCURRENCY, FilesystemStorageReader } from "../src/storage/filesystem-reader.js";
import { blobDataPath, blobsDir, repositoriesDir, revisionsDir, tagsDir } from "../src/storage/layout.js";
import type { Digest } from "../src/core/digest.js";

/** cleanup.ts reads this many repositories at once by default. */
export const SCAN_CONCURRENCY = 8;

export interface ScanResult {
  ms: number;
  repositories: number;
  manifests: number;
  candidates: number;
  /** Files (and directories) read, for the reference. */
  reads?: number;
}

export interface ScanOptions {
  scanConcurrency?: number;
  readConcurrency?: number;
  minAgeMs?: number;
}

/** The tool's own dry run, in process: phases timed through its events. */
export interface ToolScanResult extends ScanResult {
  /** The space estimate's walk of the blob store, after the scan. */
  blobWalkMs: number;
  totalMs: number;
}

/**
 * runCleanup itself, as a dry run whose token provider grants nothing: every repository with
 * candidates is then reported as refused without a single request, so nothing but the scan, the
 * plan and the space estimate runs. The scan ends with its last progress event.
 */
export async function toolScan(root: string, options: ScanOptions = {}): Promise<ToolScanResult> {
  const started = performance.now();
  let scanned = started;
  let measuring = started;
  let warnings = 0;
  const report = await runCleanup(
    {
      storage: new FilesystemStorageReader(root, { concurrency: options.readConcurrency ?? DEFAULT_READ_CONCURRENCY }),
      tokens: grantNothing,
      registry: unreachable,
      preflight: async () => {},
      now: Date.now,
      runId: "bench",
    },
    { dryRun: true, minAgeMs: options.minAgeMs ?? 0, concurrency: 8, scanConcurrency: options.scanConcurrency ?? SCAN_CONCURRENCY },
    {
      scanProgress: () => void (scanned = performance.now()),
      measuring: () => void (measuring = performance.now()),
      warning: () => void warnings++,
    },
  );
  if (warnings > 0) throw new Error(`the generated storage gave ${warnings} warnings`);
  const ended = performance.now();
  return {
    ms: scanned - started, blobWalkMs: ended - measuring, totalMs: ended - started,
    repositories: report.repositories, manifests: report.manifests, candidates: report.candidates,
  };
}

/** A token provider that grants nothing: a dry run then refuses every repository without a request. */
export const grantNothing: TokenProvider = {
  verifyCredentials: async () => {},
  authorize: async (names) => new Map(names.map((name) => [name, false])),
  tokenFor: () => Promise.reject(new Error("the benchmark asks for no token")),
  requestCount: 0,
};

const refuse = (): Promise<never> => Promise.reject(new Error("the benchmark contacts no registry"));
/** A registry that is never contacted (a scan-only dry run does not need it). */
export const unreachable: RegistryApi = { ping: refuse, listTags: refuse, deleteManifest: refuse, getManifest: refuse, putManifest: refuse };

const readdirAsync = promisify(readdir);
const readFileAsync = promisify(readFile);
const statAsync = promisify(stat);

/**
 * The reference: list repositories, then per repository (same number at once) list revisions and
 * tags and, with the same number of reads in flight, stat + read each revision link, read its
 * manifest blob, read each tag's current link. No parsing, no validation, no planning.
 */
export async function referenceScan(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const started = performance.now();
  const reads = { count: 0, manifests: 0 };
  const readConcurrency = options.readConcurrency ?? DEFAULT_READ_CONCURRENCY;
  const names = await listRepositories(repositoriesDir(root), "", reads);
  await forEachBounded(names, options.scanConcurrency ?? SCAN_CONCURRENCY, async (name) => {
    const revisions = join(revisionsDir(root, name), "sha256");
    const tags = tagsDir(root, name);
    const [hexes, tagNames] = await Promise.all([readdirAsync(revisions), readdirAsync(tags)]);
    reads.count += 2;
    const revisionReads = pool(hexes, readConcurrency, async (hex) => {
      const link = join(revisions, hex, "link");
      await statAsync(link);
      await readFileAsync(link);
      await readFileAsync(blobDataPath(root, `sha256:${hex}` as Digest));
      reads.count += 3;
      reads.manifests++;
    });
    const tagReads = pool(tagNames, readConcurrency, async (tag) => {
      await readFileAsync(join(tags, tag, "current", "link"));
      reads.count++;
    });
    await Promise.all([revisionReads, tagReads]);
  });
  return { ms: performance.now() - started, repositories: names.length, manifests: reads.manifests, candidates: 0, reads: reads.count };
}

/** The reference for the space estimate: list every blob folder and stat its `data`, prefix by prefix. */
export async function referenceBlobWalk(root: string, options: ScanOptions = {}): Promise<number> {
  const started = performance.now();
  const base = join(blobsDir(root), "sha256");
  for (const prefix of await readdirAsync(base)) {
    const hexes = await readdirAsync(join(base, prefix));
    await pool(hexes, options.readConcurrency ?? DEFAULT_READ_CONCURRENCY, async (hex) => {
      await statAsync(join(base, prefix, hex, "data"));
    });
  }
  return performance.now() - started;
}

/** Depth-first listing; a directory holding `_manifests` is a repository. */
async function listRepositories(dir: string, prefix: string, reads: { count: number }): Promise<RepositoryName[]> {
  const entries = await promisify(readdir)(dir, { withFileTypes: true });
  reads.count++;
  const names: RepositoryName[] = [];
  if (prefix !== "" && entries.some((entry) => entry.name === "_manifests")) names.push(prefix as RepositoryName);
  const children = entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith("_"));
  const nested = await Promise.all(children.map((entry) => listRepositories(join(dir, entry.name), prefix === "" ? entry.name : `${prefix}/${entry.name}`, reads)));
  return names.concat(...nested);
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// A child for profiling and peak memory: `node [--cpu-prof] scan.js <root> tool|reference`.
if (process.argv[1]?.endsWith("/bench/scan.js") && process.argv[2]) {
  const [root, which = "tool"] = process.argv.slice(2);
  const result = which === "tool" ? await toolScan(root!) : { ...(await referenceScan(root!)), blobWalkMs: await referenceBlobWalk(root!) };
  // CPU time (all threads, user + system) varies far less than wall time on a shared machine.
  const usage = process.resourceUsage();
  const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
  process.stdout.write(`${JSON.stringify({ ...result, cpuMs, maxRssKb: usage.maxRSS })}\n`);
}
