/**
 * Scenario `s3`: a registry of a generated size in a bucket of a real S3 server (Ceph's RADOS
 * gateway on a RAM-backed OSD, test/helpers/s3-server.ts). The generated tree is copied in key
 * for key (bench/s3-upload.ts), not pushed. Then, alternating in child processes
 * (bench/s3-scan.ts), the tool's dry run in process against the floor that lists every key and
 * GETs only what a plan needs, and finally the real CLI's dry run against `docker-registry`
 * serving that bucket, for its peak RSS. Object times are the upload's, so every run uses
 * `--min-age 0` and must plan exactly the model's candidates.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { S3Settings } from "../src/storage/s3/settings.js";
import { DEFAULT_USERS } from "../test/helpers/environment.js";
import { startGitlabStandin } from "../test/helpers/gitlab-standin.js";
import { createPki } from "../test/helpers/pki.js";
import { startRegistry } from "../test/helpers/registry-server.js";
import { startS3Server, type S3Server } from "../test/helpers/s3-server.js";
import { runCliMeasured, type CliRun } from "./cli-run.js";
import { processCpuMs } from "./delete.js";
import { BENCH_DIR, projectsOf, type CachedStorage } from "./environment.js";
import { machineBusyMs, waitForQuiet } from "./machine-load.js";
import type { RepositoryModel, SizeName } from "./model.js";
import type { RequestCounts, S3ScanResult } from "./s3-scan.js";
import { uploadTree } from "./s3-upload.js";

/** One line of the result table (the shape of run.ts's rows). */
export interface BenchRow {
  scenario: string;
  measured: string;
  reference: string;
  value: number;
  target: string;
  pass: boolean;
}

export interface S3ScenarioOptions {
  /** Alternating reference/tool rounds after a warm-up reference run; at least 2. */
  rounds: number;
  log: (line: string) => void;
}

const BUCKET = "registry";
/** `rootdirectory: /registry`, as omnibus setups often have it: keys start with `registry/`. */
const ROOT_DIRECTORY = "/registry";
/** The memstore's capacity: M needs ~6 GB of OSD memory in all (~20 KB per object). $BENCH_S3_MEMORY_GB overrides. */
const MEMORY_BYTES = Number(process.env.BENCH_S3_MEMORY_GB ?? "10") * 2 ** 30;
/** Before each round, wait up to $BENCH_S3_QUIET_WAIT_S (600) for others to use under $BENCH_S3_QUIET_CORES (0.5) cores. */
const QUIET_CORES = Number(process.env.BENCH_S3_QUIET_CORES ?? "0.5");
const QUIET_WAIT_MS = Number(process.env.BENCH_S3_QUIET_WAIT_S ?? "600") * 1000;
const CHILD = join(fileURLToPath(new URL(".", import.meta.url)), "s3-scan.js");
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** The middle value; with an even count (2 rounds) the mean of the middle two, not the larger. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

/** Runs the scenario on `storage` (a generated size); stops every server it started, also on failure. */
export async function s3Scenario(size: SizeName, storage: CachedStorage, models: RepositoryModel[], options: S3ScenarioOptions): Promise<BenchRow[]> {
  const { log } = options;
  const dir = await mkdtemp(join(BENCH_DIR, "s3-"));
  const cephDir = join(dir, "ceph");
  await mkdir(cephDir);
  let server: S3Server | undefined;
  try {
    server = await startS3Server({ dir: cephDir, memoryBytes: MEMORY_BYTES });
    await server.createBucket(BUCKET);
    log(`  S3 server at ${server.endpoint}; uploading ${size} into s3://${BUCKET}${ROOT_DIRECTORY} (load ${load()})`);
    const upload = await uploadTree(server, BUCKET, storage.root, `${ROOT_DIRECTORY.slice(1)}/`, {
      concurrency: 32, onProgress: (done, total) => log(`    ${done}/${total} objects`),
    });
    log(`  uploaded ${upload.objects} objects (${(upload.bytes / 2 ** 20).toFixed(0)} MB) in ${seconds(upload.ms)}, ` +
      `${(upload.objects / (upload.ms / 1000)).toFixed(0)}/s; the OSD now holds ${await osdRssMb(cephDir)} MB (for sizing BENCH_S3_MEMORY_GB)`);
    const settings: S3Settings = {
      bucket: BUCKET, rootDirectory: `${ROOT_DIRECTORY.slice(1)}/`, region: server.region, endpoint: server.endpoint,
      secure: false, skipVerify: false, accessKey: server.accessKey, secretKey: server.secretKey,
    };
    const { rows, referenceMs } = await alternate(size, storage, settings, cephDir, options);
    rows.push(await cliDryRun(size, storage, models, server, dir, referenceMs, log));
    return rows;
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A child's result plus the CPU the gateway and the OSD spent serving it, and the cores' worth
 * of CPU the rest of the machine (other people's work) used meanwhile.
 */
type Measured = S3ScanResult & { serverCpuMs: number; othersCores: number };

/** Warm-up reference, then reference and tool in turn; the rows compare medians. */
async function alternate(
  size: SizeName, storage: CachedStorage, settings: S3Settings, cephDir: string, options: S3ScenarioOptions,
): Promise<{ rows: BenchRow[]; referenceMs: number }> {
  const { log } = options;
  const run = (which: "tool" | "reference"): Promise<Measured> => measuredChild(which, settings, cephDir);
  log(`  warm-up: reference (load ${load()})`);
  const warm = await run("reference");
  if (warm.manifests !== storage.summary.manifests || warm.tags !== storage.summary.tags) {
    throw new Error(`the reference found ${warm.manifests} manifests and ${warm.tags} tags, the model says ${storage.summary.manifests} and ${storage.summary.tags}`);
  }
  const tool: Measured[] = [];
  const reference: Measured[] = [];
  for (let round = 1; round <= Math.max(2, options.rounds); round++) {
    const quiet = await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS, log);
    reference.push(await run("reference"));
    tool.push(await run("tool"));
    const [r, t] = [reference.at(-1)!, tool.at(-1)!];
    log(`  round ${round} (others used ${quiet.toFixed(2)} cores before, ${r.othersCores.toFixed(2)} / ${t.othersCores.toFixed(2)} during): ` +
      `reference ${seconds(r.ms)} (CPU ${seconds(r.cpuMs)}, server ${seconds(r.serverCpuMs)}, ${r.inFlight.toFixed(1)} in flight), ` +
      `tool ${seconds(t.ms)} = scan ${seconds(t.scanMs!)} + estimate ${seconds(t.estimateMs!)} ` +
      `(CPU ${seconds(t.cpuMs)}, server ${seconds(t.serverCpuMs)}, ${t.inFlight.toFixed(1)} in flight), ratio ${(t.ms / r.ms).toFixed(2)}, ` +
      `tool peak RSS ${Math.round(t.maxRssKb / 1024)} MB`);
  }
  const expected = storage.summary.candidates;
  const planned = tool.map((t) => t.candidates ?? -1);
  log(`  requests, per manifest (${storage.summary.manifests}):`);
  log(`    tool:      ${perManifest(tool[0]!.requests, storage.summary.manifests)}`);
  log(`    reference: ${perManifest(reference[0]!.requests, storage.summary.manifests)}`);
  const cpu = median(tool.map((t) => t.cpuMs)) / median(reference.map((r) => r.cpuMs));
  const serverCpu = median(tool.map((t) => t.serverCpuMs)) / median(reference.map((r) => r.serverCpuMs));
  // Client and server share the two cores, so on a quiet machine the wall ratio tends to this one.
  const allCpu = median(tool.map((t) => t.cpuMs + t.serverCpuMs)) / median(reference.map((r) => r.cpuMs + r.serverCpuMs));
  log(`  CPU tool / reference: client ${cpu.toFixed(2)}x, server (radosgw + OSD) ${serverCpu.toFixed(2)}x, both ${allCpu.toFixed(2)}x`);
  const toolMs = median(tool.map((t) => t.ms));
  const refMs = median(reference.map((r) => r.ms));
  const scanMs = median(tool.map((t) => t.scanMs!));
  const rows: BenchRow[] = [
    {
      scenario: `s3 dry run in process ${size} (scan+plan+estimate)`, measured: `${seconds(toolMs)} (CPU ${cpu.toFixed(2)}x, +server ${allCpu.toFixed(2)}x)`,
      reference: seconds(refMs), value: toolMs / refMs, target: "<= 1.3x", pass: toolMs / refMs <= 1.3,
    },
    {
      scenario: `s3 scan+plan only ${size}`, measured: seconds(scanMs), reference: seconds(refMs),
      value: scanMs / refMs, target: "<= 1.3x", pass: scanMs / refMs <= 1.3,
    },
    {
      scenario: `s3 candidates planned ${size}`, measured: [...new Set(planned)].join("/"), reference: `model ${expected}`,
      value: planned[0]!, target: "= model", pass: planned.every((count) => count === expected),
    },
  ];
  return { rows, referenceMs: refMs };
}

/** One child (`node s3-scan.js which`), and the CPU time the S3 server's daemons spent meanwhile. */
async function measuredChild(which: "tool" | "reference", settings: S3Settings, cephDir: string): Promise<Measured> {
  const daemons = await serverPids(cephDir);
  const before = await Promise.all(daemons.map(processCpuMs));
  const busyBefore = await machineBusyMs();
  const started = performance.now();
  // BENCH_S3_CHILD_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the children.
  const nodeArgs = (process.env.BENCH_S3_CHILD_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeArgs, CHILD, which], {
    maxBuffer: 1 << 20, env: { PATH: process.env.PATH ?? "", BENCH_S3_SETTINGS: JSON.stringify(settings) },
  });
  const wallMs = performance.now() - started;
  const busyMs = (await machineBusyMs()) - busyBefore;
  const after = await Promise.all(daemons.map(processCpuMs));
  const serverCpuMs = after.reduce((sum, ms, i) => sum + ms - before[i]!, 0);
  const result = JSON.parse(stdout) as S3ScanResult;
  return { ...result, serverCpuMs, othersCores: Math.max(0, busyMs - result.cpuMs - serverCpuMs) / wallMs };
}

/** The gateway's and the OSD's pids, from the pid files Ceph writes in the server's directory. */
async function serverPids(cephDir: string): Promise<number[]> {
  const pids = await Promise.all(["client.rgw.a", "osd.0"].map((name) => readFile(join(cephDir, `${name}.pid`), "utf8").catch(() => "")));
  return pids.map((text) => Number.parseInt(text, 10)).filter((pid) => pid > 0);
}

/** The OSD's resident memory: the memstore keeps every object (data, xattrs, index entries) in it. */
async function osdRssMb(cephDir: string): Promise<string> {
  const pid = Number.parseInt(await readFile(join(cephDir, "osd.0.pid"), "utf8").catch(() => ""), 10);
  const status = pid > 0 ? await readFile(`/proc/${pid}/status`, "utf8").catch(() => "") : "";
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  return Number.isNaN(kb) ? "?" : (kb / 1024).toFixed(0);
}

function perManifest(counts: RequestCounts, manifests: number): string {
  const each = (n: number): string => `${n} (${(n / manifests).toFixed(3)})`;
  return `list ${counts.list} calls, ${each(counts.listPages)} pages; listObjects ${counts.listObjects} calls, ` +
    `${each(counts.listObjectsPages)} pages; get ${each(counts.get)}; stat ${each(counts.stat)}`;
}

/** The built CLI's dry run against docker-registry on the bucket and the GitLab stand-in; only `--registry-config` names the storage. */
async function cliDryRun(
  size: SizeName, storage: CachedStorage, models: RepositoryModel[], server: S3Server, dir: string, referenceMs: number, log: (line: string) => void,
): Promise<BenchRow> {
  const pki = await createPki(dir);
  const gitlab = await startGitlabStandin({ pki, issuer: "gitlab-issuer", users: DEFAULT_USERS, projects: projectsOf(models) });
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  try {
    await mkdir(join(dir, "registry"));
    registry = await startRegistry({
      realm: gitlab.realm, issuer: "gitlab-issuer", certPath: pki.certPath, dir: join(dir, "registry"),
      storage: { s3: { endpoint: server.endpoint, region: server.region, bucket: BUCKET, accessKey: server.accessKey, secretKey: server.secretKey, rootDirectory: ROOT_DIRECTORY } },
    });
    const credentials = join(dir, "credentials");
    await writeFile(credentials, "root\nglpat-root-api-token\n");
    await chmod(credentials, 0o600);
    log(`  CLI --dry-run --min-age 0 on ${size} in S3 (load ${load()})`);
    const run: CliRun = await runCliMeasured([
      "-g", gitlab.url, "-r", registry.url, "-k", "--registry-config", registry.configPath, "-c", credentials,
      "--journal", join(dir, "journal.jsonl"), "--dry-run", "--min-age", "0",
    ], dir);
    const wouldDelete = run.counts.Would ?? 0;
    log(`  exit ${run.code} in ${seconds(run.wallMs)} (CPU ${seconds(run.cpuMs)}), ${wouldDelete} would-delete lines, ` +
      `${gitlab.authRequests} /jwt/auth requests, peak RSS ${(run.maxRssKb / 1024).toFixed(0)} MB; ` +
      `wall ${(run.wallMs / referenceMs).toFixed(2)}x the reference's median`);
    const ok = run.code === 0 && wouldDelete === storage.summary.candidates;
    if (!ok) log(run.tail.join("\n"));
    const mb = run.maxRssKb / 1024;
    return {
      scenario: `s3 peak RSS, CLI dry run ${size}`, measured: `${mb.toFixed(0)} MB`, reference: `${seconds(run.wallMs)} wall`,
      value: mb, target: "< 300 MB", pass: mb < 300 && ok,
    };
  } finally {
    await registry?.dispose();
    await gitlab.close();
  }
}

/** The 1-minute load average, to say how noisy a round was. */
function load(): string {
  return loadavg()[0]!.toFixed(1);
}
