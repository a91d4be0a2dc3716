/**
 * The S3 scenario's two measured programs, each run in a child of its own: the tool's dry run in
 * process (runCleanup over RegistryStorage over the S3Driver, as the CLI builds them) and the
 * honest floor (list every key below the storage root, GET exactly what a correct plan needs,
 * with the same driver and the same 16 requests in flight, nothing else). Both count what they
 * ask of the driver (calls by kind) and of the server (HTTP requests by kind).
 *
 * `node s3-scan.js tool|reference`, settings as JSON in $BENCH_S3_SETTINGS; one JSON line out.
 */
import { Agent, type Dispatcher } from "undici";
import { runCleanup } from "../src/cleanup.js";
import type { Listing, StorageDriver, StoredContent, StoredObject } from "../src/storage/driver.js";
import { BLOBS_PREFIX, REPOSITORIES_PREFIX } from "../src/storage/layout.js";
import { RegistryStorage } from "../src/storage/registry-storage.js";
import { S3Driver } from "../src/storage/s3/s3-driver.js";
import type { S3Settings } from "../src/storage/s3/settings.js";
import { grantNothing, unreachable } from "./scan.js";

/** Requests in flight, as the CLI's S3Driver has them by default. */
export const S3_CONCURRENCY = 16;

/** Calls to the driver port, and the HTTP requests they became (retries included). */
export interface RequestCounts {
  /** driver.list (delimited listings: the walk, the tags) and the pages they took. */
  list: number;
  listPages: number;
  /** driver.listObjects (flat listings: revisions, blobs) and the pages they took. */
  listObjects: number;
  listObjectsPages: number;
  get: number;
  stat: number;
}

/** What a child prints. */
export interface S3ScanResult {
  /** Wall time of the whole run; for the tool also its scan (to the last progress event) and space estimate. */
  ms: number;
  scanMs?: number;
  estimateMs?: number;
  manifests: number;
  tags?: number;
  candidates?: number;
  requests: RequestCounts;
  /** Requests in flight on the wire, on average over the run (sampled every 10 ms): 16 is full use. */
  inFlight: number;
  cpuMs: number;
  maxRssKb: number;
}

const noCounts = (): RequestCounts => ({ list: 0, listPages: 0, listObjects: 0, listObjectsPages: 0, get: 0, stat: 0 });

/** The same Agent the S3 client builds for itself (s3-client.ts createAgent), counting each request it sends. */
class CountingAgent extends Agent {
  constructor(readonly counts: RequestCounts) {
    super({ connections: S3_CONCURRENCY, keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000, connectTimeout: 10_000 });
  }

  override dispatch(options: Agent.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const path = options.path;
    if (path.includes("list-type=2")) {
      if (path.includes("delimiter=")) this.counts.listPages++;
      else this.counts.listObjectsPages++;
    }
    return super.dispatch(options, handler);
  }

  /** Samples the requests in flight every 10 ms until the returned function is called; that gives the average. */
  sampleInFlight(): () => number {
    let samples = 0;
    let total = 0;
    const timer = setInterval(() => {
      samples++;
      for (const stats of Object.values(this.stats)) total += stats.running;
    }, 10);
    return () => {
      clearInterval(timer);
      return samples === 0 ? 0 : total / samples;
    };
  }
}

/** The driver port with a counter on each call; everything else is the wrapped driver's. */
class CountingDriver implements StorageDriver {
  readonly location: string;

  constructor(private readonly inner: StorageDriver, readonly counts: RequestCounts) {
    this.location = inner.location;
  }

  describe(key: string): string {
    return this.inner.describe(key);
  }

  checkRoot(): Promise<void> {
    return this.inner.checkRoot();
  }

  list(prefix: string): Promise<Listing> {
    this.counts.list++;
    return this.inner.list(prefix);
  }

  listObjects(prefix: string, shape?: readonly string[]): AsyncIterable<StoredObject> {
    this.counts.listObjects++;
    return this.inner.listObjects(prefix, shape);
  }

  get(key: string, maxBytes?: number): Promise<StoredContent | { tooLarge: number } | undefined> {
    this.counts.get++;
    return this.inner.get(key, maxBytes);
  }

  stat(key: string): Promise<StoredObject | undefined> {
    this.counts.stat++;
    return this.inner.stat(key);
  }
}

/** The S3Driver of the CLI (16 in flight) behind the counters, which both count into; close the agent when done. */
function countedDriver(settings: S3Settings): { driver: CountingDriver; agent: CountingAgent } {
  const counts = noCounts();
  const agent = new CountingAgent(counts);
  return { driver: new CountingDriver(new S3Driver(settings, { concurrency: S3_CONCURRENCY, dispatcher: agent }), counts), agent };
}

/**
 * runCleanup as a dry run whose token provider grants nothing (as bench/scan.ts toolScan): no
 * registry or GitLab request, only the scan, the plan and the space estimate.
 */
async function toolRun(driver: StorageDriver): Promise<Omit<S3ScanResult, "cpuMs" | "maxRssKb" | "requests" | "inFlight">> {
  const started = performance.now();
  let scanned = started;
  let measuring = started;
  const warnings: string[] = [];
  const report = await runCleanup(
    {
      storage: new RegistryStorage(driver), tokens: grantNothing, registry: unreachable,
      preflight: async () => {}, now: Date.now, runId: "bench-s3",
    },
    { dryRun: true, minAgeMs: 0, concurrency: 8 },
    {
      scanProgress: () => void (scanned = performance.now()),
      measuring: () => void (measuring = performance.now()),
      warning: (warning) => void warnings.push(`${warning.path}: ${warning.message}`),
    },
  );
  if (warnings.length > 0) throw new Error(`the bucket gave ${warnings.length} warnings, e.g. ${warnings[0]}`);
  const ended = performance.now();
  return {
    ms: ended - started, scanMs: scanned - started, estimateMs: ended - measuring,
    manifests: report.manifests, candidates: report.candidates,
  };
}

/** `<repo>/_manifests/revisions/sha256/<hex>/link` -> the hex; a tag's `current/link` -> the key itself. */
const REVISION_LINK = /\/_manifests\/revisions\/sha256\/([0-9a-f]{64})\/link$/;
const TAG_CURRENT = /\/_manifests\/tags\/[^/]+\/current\/link$/;

/**
 * The floor: list every key below the root (`repositories/` and `blobs/`, the two prefixes the
 * registry writes there, side by side) and, as the repository keys stream in, GET each tag's
 * `current/link` and the manifest blob of each revision link, at most 16 in flight.
 */
async function referenceRun(driver: StorageDriver): Promise<Omit<S3ScanResult, "cpuMs" | "maxRssKb" | "requests" | "inFlight">> {
  const started = performance.now();
  const seen = { manifests: 0, tags: 0, missing: 0, blobBytes: 0 };
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const getSoon = async (key: string): Promise<void> => {
    while (inFlight >= S3_CONCURRENCY) await new Promise<void>((resolve) => (wake = resolve));
    inFlight++;
    driver.get(key).then(
      (read) => void (read === undefined && seen.missing++),
      (error: unknown) => void (failure ??= error),
    ).finally(() => {
      inFlight--;
      const next = wake;
      wake = undefined;
      next?.();
    });
  };
  const repositories = (async () => {
    for await (const { key } of driver.listObjects(REPOSITORIES_PREFIX)) {
      const revision = REVISION_LINK.exec(key);
      if (revision) {
        const hex = revision[1]!;
        seen.manifests++;
        await getSoon(`${BLOBS_PREFIX}sha256/${hex.slice(0, 2)}/${hex}/data`);
      } else if (TAG_CURRENT.test(key)) {
        seen.tags++;
        await getSoon(key);
      }
    }
  })();
  const blobs = (async () => {
    for await (const object of driver.listObjects(BLOBS_PREFIX)) seen.blobBytes += object.size;
  })();
  await Promise.all([repositories, blobs]);
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failure !== undefined) throw failure;
  if (seen.missing > 0) throw new Error(`${seen.missing} objects the listing named were missing`);
  return { ms: performance.now() - started, manifests: seen.manifests, tags: seen.tags };
}

// The child: `node s3-scan.js tool|reference` with $BENCH_S3_SETTINGS.
if (process.argv[1]?.endsWith("/bench/s3-scan.js") && process.argv[2]) {
  const which = process.argv[2];
  const settings = JSON.parse(process.env.BENCH_S3_SETTINGS ?? "{}") as S3Settings;
  const { driver, agent } = countedDriver(settings);
  const sampled = agent.sampleInFlight();
  const result = which === "tool" ? await toolRun(driver) : await referenceRun(driver);
  const inFlight = sampled();
  await agent.close();
  // CPU time (all threads, user + system) varies far less than wall time on a shared machine.
  const usage = process.resourceUsage();
  const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
  process.stdout.write(`${JSON.stringify({ ...result, requests: driver.counts, inFlight, cpuMs, maxRssKb: usage.maxRSS } satisfies S3ScanResult)}\n`);
}
