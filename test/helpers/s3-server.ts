/**
 * A real S3 server for adapter tests (STYLE.md habit 11): a single-node Ceph cluster (one
 * monitor, one memstore OSD, no manager) and its RADOS gateway on 127.0.0.1, all in one temp
 * directory, set up as OBJECT-STORAGE.md describes. Its own small SigV4 client seeds and reads
 * buckets, independent of the tool's S3 code so that it can serve as the tests' oracle.
 *
 * Daemons are started daemonized (so that Ceph writes their pid files) and stopped by the pids
 * in those files, after checking that the pid still runs with this directory's config: never by
 * name, never anything this helper did not start.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { access, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./loopback.js";
import { S3Client } from "./s3-client.js";

const execFileAsync = promisify(execFile);

/** What `apt-get install ceph-mon ceph-osd radosgw` installs (scripts/setup.sh). */
const BINARIES = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"].map((name) => `/usr/bin/${name}`);
/**
 * For a whole start, every step included. Generous (a start takes ~1.5 s here, a loaded 2-core
 * machine can take many times that), yet under vitest's 120 s hook timeout so that a failed
 * start still has time to stop what it started.
 */
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;
const MON = "mon.a";
const OSD = "osd.0";
const RGW = "client.rgw.a";
/** Stopped in this order: started out of order, the daemons can hang 6-10 s on SIGTERM. */
const DAEMONS = [RGW, OSD, MON];

/** A running radosgw with one user, and the calls tests need to seed and inspect buckets. */
export interface S3Server {
  /** e.g. `http://127.0.0.1:41234`; path-style addressing. */
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** Signed `PUT /<bucket>`. Succeeds when this user already owns the bucket. */
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer | string): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Every key under `prefix` (all pages of ListObjectsV2), in key order. */
  listKeys(bucket: string, prefix?: string): Promise<Array<{ key: string; size: number; lastModified: Date }>>;
  /** The object's bytes, or undefined when there is no such key. */
  getObject(bucket: string, key: string): Promise<Buffer | undefined>;
  /** Stops radosgw, then the OSD, then the monitor (SIGTERM, SIGKILL after a few seconds), by the pids in the pid files; never by name. */
  stop(): Promise<void>;
  /** Stops radosgw only; requests then fail to connect. */
  stopGateway(): Promise<void>;
  /** Starts radosgw again after stopGateway (same port, same data): for "S3 stopped mid-scan" tests. */
  startGateway(): Promise<void>;
}

export interface S3ServerOptions {
  /** Directory for config, pid files, logs and the monitor's store; a temp dir (removed by `stop()`) when absent. */
  dir?: string;
  /** `memstore device bytes`: the most object data the OSD holds in RAM. Default 1 GiB. */
  memoryBytes?: number;
}

interface Cluster {
  dir: string;
  conf: string;
  /** When the start under way must have finished (Date.now() units). */
  deadline: number;
}

/** Boots monitor, OSD, user and gateway; on failure stops whatever did start before rethrowing. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  await assertBinaries();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "s3-server-")));
  const cluster: Cluster = { dir, conf: join(dir, "ceph.conf"), deadline: Date.now() + START_TIMEOUT_MS };
  const rgwPort = await freePort();
  const credentials = { accessKey: `AK${randomBytes(9).toString("hex").toUpperCase()}`, secretKey: randomBytes(24).toString("base64url") };
  const client = new S3Client(`http://127.0.0.1:${rgwPort}`, "us-east-1", credentials.accessKey, credentials.secretKey);
  const stopAll = async (): Promise<void> => {
    for (const name of DAEMONS) await stopDaemon(cluster, name);
    await client.close();
  };
  try {
    await bootCluster(cluster, rgwPort, options.memoryBytes ?? 1024 ** 3);
    await run(cluster, "radosgw-admin", ["user", "create", "--uid", "tests", "--display-name", "tests",
      "--access-key", credentials.accessKey, "--secret-key", credentials.secretKey]);
    await startGateway(cluster, client);
  } catch (error) {
    await stopAll().catch(() => undefined);
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: client.endpoint,
    region: client.region,
    ...credentials,
    createBucket: (bucket) => client.createBucket(bucket),
    putObject: async (bucket, key, body) => void (await client.call("PUT", bucket, key, { body: Buffer.from(body) })),
    deleteObject: async (bucket, key) => void (await client.call("DELETE", bucket, key)),
    listKeys: (bucket, prefix = "") => client.listKeys(bucket, prefix),
    getObject: (bucket, key) => client.getObject(bucket, key),
    stop: async () => {
      await stopAll();
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
    stopGateway: async () => {
      await stopDaemon(cluster, RGW);
      await client.close();
    },
    startGateway: () => startGateway(cluster, client),
  };
}

/** Monitor with a one-monitor map, then one memstore OSD, waiting until the OSD is up. */
async function bootCluster(cluster: Cluster, rgwPort: number, memoryBytes: number): Promise<void> {
  const fsid = randomUUID();
  const monAddress = `[v2:127.0.0.1:${await freePort()}]`;
  await writeFile(cluster.conf, cephConfig(cluster.dir, fsid, monAddress, rgwPort, memoryBytes));
  const monmap = join(cluster.dir, "monmap");
  await run(cluster, "monmaptool", ["--create", "--fsid", fsid, "--addv", "a", monAddress, monmap]);
  await run(cluster, "ceph-mon", ["--mkfs", "-i", "a", "--monmap", monmap]);
  await launchDaemon(cluster, MON, "ceph-mon", ["-i", "a"]);
  const id = (await run(cluster, "ceph", ["osd", "create"])).trim();
  if (id !== "0") throw new Error(`ceph osd create gave id ${id}, expected 0 in a new cluster (${cluster.dir})`);
  await mkdir(join(cluster.dir, OSD));
  await run(cluster, "ceph-osd", ["-i", "0", "--mkfs"]);
  await launchDaemon(cluster, OSD, "ceph-osd", ["-i", "0"]);
  await waitFor(`${OSD} up`, cluster, OSD, async () => {
    const stat = JSON.parse(await run(cluster, "ceph", ["osd", "stat", "-f", "json"])) as { num_up_osds?: number };
    return stat.num_up_osds === 1 ? true : `num_up_osds ${stat.num_up_osds}`;
  });
}

/** Starts radosgw (unless it runs) and waits until a signed ListBuckets answers 200. */
async function startGateway(cluster: Cluster, client: S3Client): Promise<void> {
  cluster.deadline = Math.max(cluster.deadline, Date.now() + START_TIMEOUT_MS);
  client.open();
  const running = await readPid(cluster, RGW);
  // A second radosgw would fail to bind, and replacing the pid file would orphan the first.
  if (running !== undefined && (await isOurs(cluster, running))) return;
  await launchDaemon(cluster, RGW, "radosgw", ["-n", RGW]);
  await waitFor("radosgw answering S3", cluster, RGW, async () => {
    // A short timeout: something else that holds the port may accept and never answer.
    const response = await client.send("GET", "/", {}, undefined, 5_000);
    return response.status === 200 ? true : `GET / answered ${response.status}`;
  });
}

/**
 * The whole cluster's config. Every messenger mode is `crc` because with auth `none` anything
 * else makes radosgw hang for 300 s; `paxos propose interval` takes the start from ~15 s to ~2 s.
 */
function cephConfig(dir: string, fsid: string, monAddress: string, rgwPort: number, memoryBytes: number): string {
  const modes = ["client", "mon client", "service", "mon service", "cluster", "mon cluster"];
  const global: Record<string, string | number | boolean> = {
    fsid, "mon host": monAddress, "mon initial members": "a", "public addr": "127.0.0.1",
    "ms bind msgr1": false, "ms bind ipv6": false,
    "auth cluster required": "none", "auth service required": "none", "auth client required": "none",
    ...Object.fromEntries(modes.map((mode) => [`ms ${mode} mode`, "crc"])),
    "paxos propose interval": 0.05, "mon allow pool size one": true,
    "mon data avail warn": 1, "mon data avail crit": 0,
    "mon warn on pool no redundancy": false, "mon warn on insecure global id reclaim allowed": false,
    // radosgw creates ~7 pools; at the default 32 PGs each they pass mon_max_pg_per_osd (250) on one OSD.
    "osd pool default size": 1, "osd pool default min size": 1, "osd pool default pg num": 8,
    "osd pool default pgp num": 8, "osd pool default pg autoscale mode": "off", "osd crush chooseleaf type": 0,
    "osd objectstore": "memstore", "memstore device bytes": memoryBytes,
    // Fail within a minute rather than hang five when a daemon is missing.
    "client mount timeout": 60, "rados mon op timeout": 60,
    "run dir": dir, "admin socket": "$run_dir/$name.asok", "pid file": "$run_dir/$name.pid",
    "log file": "$run_dir/$name.log", "mon cluster log file": "$run_dir/cluster.log", "crash dir": "$run_dir/crash",
    "mon data": "$run_dir/$name", "osd data": "$run_dir/$name",
  };
  const section = (name: string, entries: Record<string, string | number | boolean>): string =>
    `[${name}]\n${Object.entries(entries).map(([key, value]) => `${key} = ${String(value)}`).join("\n")}\n`;
  return [
    section("global", global),
    // Without tcp_nodelay every request on a keep-alive connection waits ~45 ms (Nagle + delayed ACK).
    section(RGW, { "rgw frontends": `beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1`, "rgw data": "$run_dir/rgw",
      "rgw dynamic resharding": false }),
  ].join("\n");
}

/** Runs a Ceph tool against this cluster and returns its stdout; the error carries its output. */
async function run(cluster: Cluster, tool: string, args: string[]): Promise<string> {
  const command = [tool, "-c", cluster.conf, ...args];
  try {
    const { stdout } = await execFileAsync(`/usr/bin/${tool}`, command.slice(1), {
      timeout: remaining(cluster), maxBuffer: 16 * 1024 * 1024, env: cephEnv(),
    });
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command.join(" ")} failed (${cluster.dir}):\n${stdout}${stderr}`, { cause: error });
  }
}

/**
 * Starts a daemon that forks itself into the background and writes `<name>.pid`. Its launcher's
 * output goes to a file: the daemon may keep inherited pipes open, which would hold a pipe reader.
 */
async function launchDaemon(cluster: Cluster, name: string, tool: string, args: string[]): Promise<void> {
  await rm(pidFile(cluster, name), { force: true });
  const outPath = join(cluster.dir, `${name}.out`);
  const out = await open(outPath, "a");
  try {
    const child = spawn(`/usr/bin/${tool}`, ["-c", cluster.conf, ...args], { stdio: ["ignore", out.fd, out.fd], env: cephEnv() });
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), remaining(cluster));
      child.once("error", (error) => resolve(error.message));
      child.once("exit", (exitCode, signal) => {
        clearTimeout(timer);
        resolve(exitCode ?? signal ?? "unknown");
      });
    });
    if (code !== 0) throw new Error(`${tool} ${args.join(" ")} exited ${code} (${cluster.dir}):\n${await tail(outPath)}${await logTail(cluster, name)}`);
  } finally {
    await out.close();
  }
}

/**
 * Polls `probe` every 100 ms until it returns true; fails early when the daemon has died (a
 * daemon that exits removes its pid file, so the last pid seen is the one checked).
 */
async function waitFor(what: string, cluster: Cluster, name: string, probe: () => Promise<true | string>): Promise<void> {
  let last = "no answer yet";
  let pid: number | undefined;
  while (Date.now() < cluster.deadline) {
    pid = (await readPid(cluster, name)) ?? pid;
    if (pid !== undefined && !(await isOurs(cluster, pid))) {
      throw new Error(`${name} exited before ${what} (${cluster.dir}):\n${await logTail(cluster, name)}`);
    }
    try {
      const result = await probe();
      if (result === true) return;
      last = result;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${START_TIMEOUT_MS} ms waiting for ${what} (${last}) in ${cluster.dir}:\n${await logTail(cluster, name)}`);
}

/** Time left before the start's deadline, at least 1 s so that a last command can still report. */
function remaining(cluster: Cluster): number {
  return Math.max(1_000, cluster.deadline - Date.now());
}

/** SIGTERM by the pid file, SIGKILL after STOP_GRACE_MS; a pid no longer running our config is left alone. */
async function stopDaemon(cluster: Cluster, name: string): Promise<void> {
  const pid = await readPid(cluster, name);
  if (pid !== undefined && (await isOurs(cluster, pid))) {
    for (const [signal, grace] of [["SIGTERM", STOP_GRACE_MS], ["SIGKILL", STOP_GRACE_MS]] as const) {
      process.kill(pid, signal);
      const deadline = Date.now() + grace;
      while (Date.now() < deadline && (await isOurs(cluster, pid))) await sleep(50);
      if (!(await isOurs(cluster, pid))) break;
    }
    if (await isOurs(cluster, pid)) throw new Error(`${name} (pid ${pid}) survived SIGKILL (${cluster.dir})`);
  }
  await rm(pidFile(cluster, name), { force: true });
}

function pidFile(cluster: Cluster, name: string): string {
  return join(cluster.dir, `${name}.pid`);
}

async function readPid(cluster: Cluster, name: string): Promise<number | undefined> {
  const text = await readFile(pidFile(cluster, name), "utf8").catch(() => "");
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** True while `pid` is a live (not zombie) process started with this cluster's config file. */
async function isOurs(cluster: Cluster, pid: number): Promise<boolean> {
  try {
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${pid}/stat`, "utf8"), readFile(`/proc/${pid}/cmdline`, "utf8")]);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X" && cmdline.split("\0").includes(cluster.conf);
  } catch {
    return false;
  }
}

/** The machine's environment without variables that would point Ceph's tools at another cluster. */
function cephEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CEPH_CONF;
  delete env.CEPH_ARGS;
  return env;
}

async function logTail(cluster: Cluster, name: string): Promise<string> {
  return tail(join(cluster.dir, `${name}.log`));
}

async function tail(path: string, lines = 30): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text ? `--- ${path}:\n${text.split("\n").slice(-lines).join("\n")}\n` : "";
}

async function assertBinaries(): Promise<void> {
  const missing: string[] = [];
  for (const binary of BINARIES) await access(binary).catch(() => missing.push(binary));
  // Fail, never skip: a skipped suite would hide every S3 adapter regression.
  if (missing.length > 0) {
    throw new Error(`${missing.join(", ")} missing: the S3 tests need a real Ceph RADOS gateway. ` +
      "Install it with `apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw` (or `npm run setup`).");
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
