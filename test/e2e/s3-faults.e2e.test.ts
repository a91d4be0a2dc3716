/**
 * Bad input and a failing S3 server, end to end against the real registry on a real S3 server:
 * each run gives a clear message and the documented exit code, and nothing is deleted (the
 * bucket holds exactly the keys it held before).
 */
import { readFile, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ROOT, startEnvironment, type S3Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { credentialsFile, runCli, type CliResult } from "../helpers/run-cli.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const BUCKET = "registry";
const LOCKFILES = "docker/registry/lockfiles";
/** Enough repositories that a scan takes ~100 requests, so a cut half way is well inside it. */
const REPOSITORIES = 16;
/** Untagged manifests a run would delete: 2 in group/project, 1 in each other repository. */
const DOOMED = 2 + REPOSITORIES;

let s3: S3Server;
let env: S3Environment;
let creds: string;
/** Every key of the bucket with its size: "nothing deleted" means exactly these afterwards. */
let baseline: string[];
/** Requests of a whole dry run through the proxy, counted before the outage tests. */
let scanRequests = 0;

async function bucketKeys(): Promise<string[]> {
  return (await s3.listKeys(BUCKET)).map(({ key, size }) => `${key} ${size}`);
}

/** A copy of the registry config with `change` applied to its `storage` section. */
async function storageConfig(name: string, change: (storage: Record<string, Record<string, unknown>>) => void): Promise<string> {
  const config = parse(await readFile(env.registry.configPath, "utf8")) as { storage: Record<string, Record<string, unknown>> };
  change(config.storage);
  const path = join(env.dir, name);
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

/** A real run (no -n, grace period off): whatever it got through to would be deleted. */
function cli(registryConfig: string, ...extra: string[]): string[] {
  return [
    "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-c", creds, "--registry-config", registryConfig,
    "--journal", join(env.dir, "journal.jsonl"), "--min-age", "0", ...extra,
  ];
}

function show(result: CliResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/**
 * An HTTP proxy in front of radosgw, counting requests. At its `cutAt`-th request it goes away
 * as a stopped server does: the port closes and every open connection drops, so what was in
 * flight fails and every retry is refused.
 */
interface CutOffProxy {
  url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

async function startCutOffProxy(origin: string, cutAt = Number.POSITIVE_INFINITY): Promise<CutOffProxy> {
  const { hostname, port } = new URL(origin);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (requests.length >= cutAt) {
      server.close();
      server.closeAllConnections();
      return;
    }
    // Headers unchanged: the host header is part of the SigV4 signature.
    const upstream = request({ host: hostname, port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      // Called (with an error) also when the cut already closed it.
      server.close(() => resolve());
    }),
  };
}

interface Row {
  name: string;
  args: () => Promise<string[]>;
  code: number;
  /** A phrase of the message on stderr (a function: the servers' addresses are known only once they run). */
  stderr: () => string;
  /** Runs before the CLI; what it returns runs after, even when the test fails. */
  setup?: () => Promise<() => Promise<void>>;
}

const at = (): string => `bucket "${BUCKET}" at ${s3.endpoint}`;
const rows: Row[] = [
  {
    name: "a wrong secret key", code: 2,
    args: async () => cli(await storageConfig("wrong-secret.yml", (s) => void (s.s3!.secretkey = "not-the-secret-key"))),
    stderr: () => `S3 rejected the signature of requests to ${at()}`,
  },
  {
    name: "a wrong access key", code: 2,
    args: async () => cli(await storageConfig("wrong-access.yml", (s) => void (s.s3!.accesskey = "AKNOSUCHKEY0000000000"))),
    stderr: () => `S3 does not know the access key used for ${at()}`,
  },
  {
    name: "a bucket that does not exist", code: 2,
    args: async () => cli(await storageConfig("no-bucket.yml", (s) => void (s.s3!.bucket = "no-such-bucket"))),
    stderr: () => `There is no bucket "no-such-bucket" at ${s3.endpoint}`,
  },
  {
    name: "-p with a config on S3", code: 2,
    args: async () => cli(env.registry.configPath, "-p", "/var/opt/gitlab/gitlab-rails/shared/registry"),
    stderr: () => `-p/--registry-path names a storage path, but the registry config ${env.registry.configPath} keeps the registry on S3. Leave out -p`,
  },
  {
    name: "the metadata database's lockfile in the bucket", code: 3,
    args: async () => cli(env.registry.configPath),
    stderr: () => `The lockfile ${LOCKFILES}/database-in-use exists`,
    setup: async () => {
      await s3.putObject(BUCKET, `${LOCKFILES}/database-in-use`, "");
      return () => s3.deleteObject(BUCKET, `${LOCKFILES}/database-in-use`);
    },
  },
  {
    name: "a gcs config", code: 3,
    args: async () => cli(await storageConfig("gcs.yml", (s) => {
      delete s.s3;
      s.gcs = { bucket: BUCKET };
    })),
    stderr: () => 'uses the "gcs" (Google Cloud Storage) storage driver, which this tool does not support yet',
  },
];

beforeAll(async () => {
  s3 = await startS3Server();
  env = await startEnvironment({ s3: { server: s3, bucket: BUCKET } });
  creds = await credentialsFile(env, ROOT);
  const ctx = env.pushContext(ROOT);
  await pushTagHistory(ctx, "group/project", "latest", 3, { seed: 1 });
  for (let index = 0; index < REPOSITORIES; index++) {
    await pushTagHistory(ctx, `group/project/app-${String(index).padStart(2, "0")}`, "main", 2, { seed: 100 + 10 * index });
  }
  baseline = await bucketKeys();
});

afterAll(async () => {
  await env?.stop();
  await s3?.stop();
});

describe("bad input against a registry on S3: clear message, exit code, nothing deleted", () => {
  it.each(rows)("$name", async (row) => {
    const after = await row.setup?.();
    try {
      const result = await runCli(await row.args());
      expect(result.code, show(result)).toBe(row.code);
      expect(result.stderr, show(result)).toContain(row.stderr());
      expect(result.stdout).not.toMatch(/^Deleted image /m);
      expect(result.stdout + result.stderr).not.toContain(s3.secretKey);
    } finally {
      await after?.();
    }
    expect(await bucketKeys()).toEqual(baseline);
  });
});

describe("the S3 server going away mid-scan", () => {
  let calibration: CliResult;

  beforeAll(async () => {
    const proxy = await startCutOffProxy(s3.endpoint);
    try {
      calibration = await runCli([...cli(await storageConfig("via-proxy.yml", (s) => void (s.s3!.regionendpoint = proxy.url))), "-n"]);
      scanRequests = proxy.requests.length;
    } finally {
      await proxy.close();
    }
  });

  it("through a counting proxy, a dry run works and counts the requests of a whole scan", () => {
    expect(calibration.code, show(calibration)).toBe(0);
    expect(calibration.stdout.match(/^Would delete image /gm)).toHaveLength(DOOMED);
    expect(scanRequests).toBeGreaterThan(4 * REPOSITORIES);
  });

  it("stops with exit 1, names the s3:// URL and the endpoint, and deletes nothing", async () => {
    // Half way through the scan: the preflight (a listing and a few HEADs) is long done.
    const proxy = await startCutOffProxy(s3.endpoint, Math.floor(scanRequests / 2));
    try {
      const config = await storageConfig("cut-off.yml", (s) => void (s.s3!.regionendpoint = proxy.url));
      const result = await runCli(cli(config));
      expect(result.code, show(result)).toBe(1);
      expect(result.stderr, show(result)).toMatch(new RegExp(
        `Could not read s3://${BUCKET}/\\S+: the S3 endpoint ${proxy.url} did not answer after \\d+ attempts \\((ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)[^)]*\\)\\. ` +
          "The run stops here, since nothing is deleted without reading the bucket first",
      ));
      expect(proxy.requests.length).toBeLessThan(scanRequests);
      expect(result.stdout).not.toMatch(/^(Deleted|Would delete) image /m);
    } finally {
      await proxy.close();
    }
    expect(await bucketKeys()).toEqual(baseline);
  });
});
