/**
 * Launches the real distribution registry (Debian `docker-registry`, 2.8.2) on a loopback port
 * with token auth pointing at the GitLab stand-in, so adapter tests talk to the binary rather than
 * an imitation (STYLE.md habit 11). Everything is async: the stand-in answering the registry's
 * clients runs in the same process. Storage is a directory by default, or a bucket of a real S3
 * server (see s3-server.ts) with the `storage` option.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, request, type Dispatcher } from "undici";
import { parse, stringify } from "yaml";
import { freePort } from "./loopback.js";

const execFileAsync = promisify(execFile);

/** Where `apt-get install docker-registry` puts the binary (GITLAB.md §11). */
export const REGISTRY_BINARY = "/usr/bin/docker-registry";
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_LIMIT = 64 * 1024;

export interface RegistryOptions {
  /** The stand-in's `/jwt/auth` URL. */
  realm: string;
  issuer: string;
  /** PEM certificate of the token signing key. */
  certPath: string;
  service?: string;
  /** `storage.delete.enabled`; false makes DELETE answer 405 UNSUPPORTED. Default true. */
  deleteEnabled?: boolean;
  /** Directory for config and storage; a temp dir (removed by `dispose()`) when absent. */
  dir?: string;
  /** Serve HTTPS with this PEM certificate and key (`http.tls`); the URL is then `https://`. */
  tls?: { certPath: string; keyPath: string };
  /** Store in a bucket (`storage.s3`) instead of `<dir>/storage` (`storage.filesystem`). */
  storage?: RegistryStorage;
  /**
   * Extra environment for `serve` (e.g. AWS_ACCESS_KEY_ID for credentials from the environment).
   * The child never inherits AWS_CA_BUNDLE, which makes the S3 driver panic; set it here to test that.
   */
  env?: Record<string, string>;
}

/** Where a registry on S3 keeps its tree; written as the config's `storage.s3` section. */
export interface S3RegistryStorage {
  /** `regionendpoint`, e.g. `http://127.0.0.1:41234`; implies path-style addressing in 2.8. */
  endpoint: string;
  region: string;
  bucket: string;
  /** `accesskey` / `secretkey`; leave both out for the driver's credential chain (env, files, IAM role). */
  accessKey?: string;
  secretKey?: string;
  /** `rootdirectory`: `/` (default) or a prefix such as `/registry`. */
  rootDirectory?: string;
  /** `secure`; default true for an `https://` endpoint and false for `http://`. */
  secure?: boolean;
}

export interface RegistryStorage {
  s3: S3RegistryStorage;
}

/** What every running registry offers, whatever its storage. */
export interface RunningRegistry {
  /** e.g. `http://127.0.0.1:41234` (`https://` with the `tls` option). */
  url: string;
  port: number;
  /** `127.0.0.1:<port>`, for image references such as skopeo's `docker://` ones. */
  host: string;
  configPath: string;
  /** The extra environment it runs with (the `env` option), to give `garbageCollect` the same. */
  env: Record<string, string>;
  /** What the process wrote to stderr so far (bounded), for diagnostics. */
  stderr(): string;
  /** The running process's pid (undefined while stopped), e.g. to read its CPU time in a benchmark. */
  pid(): number | undefined;
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. Files stay. Idempotent. */
  stop(): Promise<void>;
  /** Stops if running, then starts again on the same port with the same storage. */
  restart(): Promise<void>;
  /** Stops, then removes the directory if this helper created it. */
  dispose(): Promise<void>;
}

/** A registry on the filesystem driver (the default). */
export interface RegistryServer extends RunningRegistry {
  /** `storage.filesystem.rootdirectory`: the `docker/registry/v2` tree lives under it. */
  storageRoot: string;
}

/** A registry on the S3 driver: no directory holds its tree, the bucket does, under `rootDirectory`. */
export interface S3RegistryServer extends RunningRegistry {
  s3: S3RegistryStorage & { rootDirectory: string };
}

/** Writes a config and starts `docker-registry serve`; resolves once `GET /v2/` answers 401. */
export async function startRegistry(options: RegistryOptions & { storage: RegistryStorage }): Promise<S3RegistryServer>;
export async function startRegistry(options: RegistryOptions & { storage?: undefined }): Promise<RegistryServer>;
export async function startRegistry(options: RegistryOptions): Promise<RegistryServer | S3RegistryServer>;
export async function startRegistry(options: RegistryOptions): Promise<RegistryServer | S3RegistryServer> {
  await assertBinary();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "registry-")));
  const s3 = options.storage?.s3;
  const storageRoot = s3 ? undefined : join(dir, "storage");
  if (storageRoot) await mkdir(storageRoot, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, registryConfig(options, storageRoot, port));
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const env = { ...options.env };
  let child: ChildProcess | undefined;
  let stderr = "";
  const launch = async (): Promise<void> => {
    stderr = "";
    child = spawn(REGISTRY_BINARY, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"], env: registryEnv(env) });
    child.once("error", (error) => {
      stderr += `\nspawn failed: ${error.message}`;
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_LIMIT);
    });
    await waitUntilReady(url, child, () => stderr);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running) await stopChild(running);
  };
  await launch().catch(async (error: unknown) => {
    await stop();
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const server: RunningRegistry = {
    url,
    port,
    host: `127.0.0.1:${port}`,
    configPath,
    env,
    stderr: () => stderr,
    pid: () => child?.pid,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return s3 ? { ...server, s3: { ...s3, rootDirectory: s3.rootDirectory ?? "/" } } : { ...server, storageRoot: storageRoot! };
}

/**
 * Runs plain `docker-registry garbage-collect <config>` and returns its output. Never with
 * `--delete-untagged`: in 2.8.2 it deletes platform manifests of tagged indexes (GITLAB.md §11).
 * Stop the registry first when the test needs a consistent result. `env` is added to the
 * child's environment (pass the server's `env` for a registry whose S3 keys come from there).
 */
export async function garbageCollect(configPath: string, env: Record<string, string> = {}): Promise<string> {
  await assertBinary();
  try {
    const { stdout, stderr } = await execFileAsync(REGISTRY_BINARY, ["garbage-collect", configPath], {
      maxBuffer: 64 * 1024 * 1024,
      env: registryEnv(env),
    });
    return stdout + stderr;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`docker-registry garbage-collect ${configPath} failed:\n${stdout}${stderr}`, { cause: error });
  }
}

/** Rewrites `storage.delete.enabled` in the running registry's config and restarts it. */
export async function setDeleteEnabled(server: RunningRegistry, enabled: boolean): Promise<void> {
  const config = parse(await readFile(server.configPath, "utf8")) as { storage: { delete: { enabled: boolean } } };
  config.storage.delete.enabled = enabled;
  await writeFile(server.configPath, stringify(config));
  await server.restart();
}

/**
 * The registry config: token auth against the stand-in, no background jobs, and storage in
 * `storageRoot` or, with the `storage` option, in the bucket (`storageRoot` is then unused).
 */
export function registryConfig(options: RegistryOptions, storageRoot: string | undefined, port: number): string {
  const s3 = options.storage?.s3;
  if (!s3 && storageRoot === undefined) throw new Error("registryConfig: filesystem storage needs a storageRoot");
  return stringify({
    version: 0.1,
    log: { level: "warn", formatter: "text", accesslog: { disabled: true } },
    storage: {
      ...(s3 ? { s3: s3Section(s3) } : { filesystem: { rootdirectory: storageRoot } }),
      delete: { enabled: options.deleteEnabled ?? true },
      // Upload purging would walk the storage in the background and race with tests of the tree.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString("hex"),
      ...(options.tls ? { tls: { certificate: options.tls.certPath, key: options.tls.keyPath } } : {}),
    },
    auth: {
      token: {
        realm: options.realm,
        service: options.service ?? "container_registry",
        issuer: options.issuer,
        rootcertbundle: options.certPath,
      },
    },
  });
}

/** `storage.s3` as distribution 2.8 reads it; keys only when given, else its credential chain applies. */
function s3Section(s3: S3RegistryStorage): Record<string, unknown> {
  return {
    regionendpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    ...(s3.accessKey === undefined ? {} : { accesskey: s3.accessKey }),
    ...(s3.secretKey === undefined ? {} : { secretkey: s3.secretKey }),
    rootdirectory: s3.rootDirectory ?? "/",
    secure: s3.secure ?? !s3.endpoint.startsWith("http:"),
    v4auth: true,
  };
}

/**
 * The child's environment: ours without AWS_CA_BUNDLE, plus `extra`. These machines set it, and
 * with the s3 driver aws-sdk-go v1 then panics at `serve` (LoadCustomCABundleError: the registry
 * wraps the HTTP transport). `garbage-collect` survived it in a check here but is spared it too:
 * no storage of these tests needs it.
 */
function registryEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  return { ...env, ...extra };
}

async function assertBinary(): Promise<void> {
  try {
    await access(REGISTRY_BINARY);
  } catch {
    // Fail, never skip: a skipped integration suite would hide every adapter regression.
    throw new Error(
      `${REGISTRY_BINARY} is missing: the integration tests need the real registry. ` +
        "Install it with `apt-get install -y docker-registry skopeo`.",
    );
  }
}


async function waitUntilReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = "no answer yet";
  // Readiness only: whether the certificate is trusted is the tests' business, not this probe's.
  const dispatcher: Dispatcher | undefined = url.startsWith("https:")
    ? new Agent({ connect: { rejectUnauthorized: false } })
    : undefined;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${stderr()}`);
      }
      try {
        const response = await request(`${url}/v2/`, { headersTimeout: 1_000, bodyTimeout: 1_000, ...(dispatcher ? { dispatcher } : {}) });
        await response.body.dump();
        // 401 proves both that it listens and that token auth is configured.
        if (response.statusCode === 401) return;
        lastProblem = `GET /v2/ answered ${response.statusCode}`;
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await dispatcher?.close();
  }
  throw new Error(`docker-registry at ${url} not ready after ${READY_TIMEOUT_MS} ms (${lastProblem}):\n${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
