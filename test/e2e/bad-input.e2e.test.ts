/**
 * Every bad input against one real registry: a clear message, the documented exit code, and
 * nothing deleted (the revision links on disk are all still there afterwards).
 */
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { DEFAULT_USERS, ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { startReverseProxy, type RecordingProxy } from "../helpers/proxies.js";
import { setDeleteEnabled } from "../helpers/registry-server.js";
import { credentialsFile, runCli } from "../helpers/run-cli.js";
import { createStorageTree, imageManifest, lockfilePath, type LockfileName, type StorageTree } from "../helpers/storage-tree.js";
import { revisionLinks } from "../helpers/revision-links.js";

const READER = { username: "reader", secret: "reader-password" };
let env: Environment;
let creds: string;
/** Where the tests' input files go. */
let open: string;
let baseline: string[];
let proxy: RecordingProxy | undefined;
let otherStorage: StorageTree;

type Flags = Record<string, string | null>;

/** The working command line, with flags replaced (a value), dropped (null) or switched on (""). */
function cli(overrides: Flags = {}, ...extra: string[]): string[] {
  const flags: Flags = {
    "-g": env.gitlab.url, "-r": env.registry.url, "-k": "", "-p": env.registry.storageRoot,
    "--registry-config": env.registry.configPath, "-c": creds, "--journal": join(env.dir, "journal.jsonl"),
    "--min-age": "0", ...overrides,
  };
  return [...Object.entries(flags).flatMap(([flag, value]) => (value === null ? [] : value === "" ? [flag] : [flag, value])), ...extra];
}

async function file(name: string, content: string, mode = 0o600, owner?: number): Promise<string> {
  const path = join(open, name);
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  if (owner !== undefined) await chown(path, owner, owner);
  return path;
}

/** Creates the lockfile `name` in the registry's storage; what it returns removes it. */
async function withLockfile(name: LockfileName): Promise<() => Promise<void>> {
  const lock = lockfilePath(env.registry.storageRoot, name);
  await mkdir(join(lock, ".."), { recursive: true });
  await writeFile(lock, "");
  return () => rm(join(lock, ".."), { recursive: true });
}

/** A copy of the registry config with `change` applied. */
async function registryConfig(name: string, change: (config: Record<string, unknown>) => void): Promise<string> {
  const config = parse(await readFile(env.registry.configPath, "utf8")) as Record<string, unknown>;
  change(config);
  return file(name, stringify(config));
}

interface Row {
  name: string;
  args: () => string[] | Promise<string[]>;
  code: number;
  stderr?: string | RegExp;
  stdout?: string | RegExp;
  /** Run as root without the capabilities that bypass file modes, so a mode denies for real. */
  withoutFileCapabilities?: boolean;
  /** Runs before the CLI; what it returns runs after, even when the test fails. */
  setup?: () => Promise<(() => Promise<void>) | void>;
  check?: () => void;
}

const NOBODY = 65534;
const rows: Row[] = [
  { name: "missing -g", args: () => cli({ "-g": null }), code: 2, stderr: "Error: Missing -g/--gitlab-server" },
  { name: "missing -r", args: () => cli({ "-r": null }), code: 2, stderr: "Error: Missing -r/--registry-server" },
  { name: "malformed URL", args: () => cli({ "-r": "http://" }), code: 2, stderr: 'Invalid -r/--registry-server "http://"' },
  { name: "http:// without -k", args: () => cli({ "-k": null }), code: 2, stderr: /gitlab-server http:\/\/127\.0\.0\.1:\d+ uses plain http:\/\/.*Add -k/ },
  { name: "unknown flag", args: () => cli({}, "--dry"), code: 2, stderr: "error: unknown option '--dry'" },
  { name: "bad --min-age", args: () => cli({ "--min-age": "24" }), code: 2, stderr: 'Invalid --min-age "24"' },
  { name: "bad --concurrency", args: () => cli({}, "--concurrency", "0"), code: 2, stderr: 'Invalid --concurrency "0"' },
  { name: "--ca-cert missing", args: () => cli({}, "--ca-cert", "/nonexistent/ca.pem"), code: 2, stderr: "Cannot read --ca-cert /nonexistent/ca.pem: ENOENT" },
  { name: "credentials file missing", args: () => cli({ "-c": "/nonexistent/creds" }), code: 2, stderr: "Credentials file /nonexistent/creds does not exist." },
  { name: "credentials file empty", args: async () => cli({ "-c": await file("empty", "") }), code: 2, stderr: "line 1 must hold the GitLab username, but it is empty" },
  { name: "credentials file with one line", args: async () => cli({ "-c": await file("one-line", "root\n") }), code: 2, stderr: "line 2 must hold the password or personal access token, but it is missing." },
  { name: "credentials file is a directory", args: () => cli({ "-c": open }), code: 2, stderr: "is a directory, not a file" },
  { name: "username with a colon", args: async () => cli({ "-c": await file("colon", "ro:ot\nx\n") }), code: 2, stderr: 'The username "ro:ot" contains ":"' },
  { name: "no secret anywhere, empty stdin", args: () => cli({ "-c": null }), code: 2, stderr: "No password or token given" },
  {
    name: "credentials file unreadable (EACCES)", withoutFileCapabilities: true, code: 2,
    args: async () => cli({ "-c": await file("nobody-only", "root\nroot-password\n", 0o600, NOBODY) }),
    stderr: /Cannot read credentials file \S+: permission denied\. Run as its owner or with sudo\./,
  },
  {
    name: "credentials file readable by others", code: 0, stdout: "Would delete image",
    args: async () => cli({ "-c": await file("world-readable", `${ROOT.username}\n${ROOT.secret}\n`, 0o644) }, "-n"),
    stderr: /Warning: Credentials file \S+ is accessible by other users \(mode 644\); restrict it with: chmod 600/,
  },
  { name: "storage path missing", args: () => cli({ "-p": "/nonexistent/registry" }), code: 2, stderr: "Storage path /nonexistent/registry does not exist." },
  { name: "storage path not a registry", args: () => cli({ "-p": open }), code: 2, stderr: "is not a registry storage root" },
  {
    name: "storage permission denied", withoutFileCapabilities: true, code: 2,
    args: () => cli({ "-p": otherStorage.root }),
    // Its root (mode 0700) owned by another user: root bound by file modes cannot enter it.
    setup: async () => {
      await chown(otherStorage.root, NOBODY, NOBODY);
      return () => chown(otherStorage.root, 0, 0);
    },
    stderr: /Permission denied reading \S+\. .*run the tool with sudo\./,
  },
  {
    name: "wrong password", code: 4,
    args: async () => cli({ "-c": await file("wrong", "root\nnot-the-password\n") }),
    stderr: /GitLab refused the credentials for user root .*two-factor authentication need a personal access token with the `api` scope/,
    setup: async () => env.gitlab.resetStats(),
    check: () => expect(env.gitlab.authRequests).toBe(1),
  },
  {
    name: "no delete permission anywhere", code: 4,
    args: async () => cli({ "-c": await file("reader", `${READER.username}\n${READER.secret}\n`) }),
    stderr: /Skipped repository group\/project \(11 untagged manifests.*, no permission\): the token GitLab issued lacks delete/,
    stdout: /Nothing can be deleted with these credentials/,
  },
  {
    name: "database-in-use lockfile", code: 3, args: () => cli(),
    stderr: "The lockfile docker/registry/lockfiles/database-in-use exists",
    setup: () => withLockfile("database-in-use"),
  },
  {
    // Possibly stale (a migration before GitLab 18.8), and this registry sends no Database-Enabled header.
    name: "a lone filesystem-in-use lockfile, config missing", code: 3, setup: () => withLockfile("filesystem-in-use"),
    args: () => cli({ "--registry-config": "/nonexistent/config.yml" }, "-n"),
    stderr: /Only the lockfile docker\/registry\/lockfiles\/filesystem-in-use .*\/nonexistent\/config\.yml was not found.*--registry-config/,
    // Refused before the dry run lists anything it would delete.
    stdout: /^(?![\s\S]*Would delete)/,
  },
  {
    name: "a lone filesystem-in-use lockfile, the registry answering Database-Enabled: false", code: 0,
    args: () => cli({ "--registry-config": "/nonexistent/config.yml", "-r": proxy!.url }, "-n"),
    stdout: "Would delete image",
    setup: async () => {
      const removeLock = await withLockfile("filesystem-in-use");
      proxy = await startReverseProxy(env.registry.url, undefined, { "Gitlab-Container-Registry-Database-Enabled": "false" });
      return async () => {
        await proxy!.close();
        await removeLock();
      };
    },
  },
  {
    name: "config enables the metadata database", code: 3, stderr: "The registry config sets database.enabled: true.",
    args: async () => cli({ "--registry-config": await registryConfig("db.yml", (c) => (c.database = { enabled: true })) }),
  },
  {
    name: "-p with a config on S3", code: 2, stderr: "-p/--registry-path names a storage path, but the registry config",
    args: async () => cli({
      "--registry-config": await registryConfig("s3.yml", (c) => {
        c.storage = { s3: { bucket: "b", region: "r" }, delete: { enabled: true } };
      }),
    }),
  },
  {
    name: "config uses a storage driver not supported yet", code: 3,
    stderr: 'uses the "gcs" (Google Cloud Storage) storage driver, which this tool does not support yet',
    args: async () => cli({
      "--registry-config": await registryConfig("gcs.yml", (c) => {
        c.storage = { gcs: { bucket: "b" }, delete: { enabled: true } };
      }),
    }),
  },
  {
    name: "-p with --storage", code: 2, stderr: "-p/--registry-path and --storage both name the storage",
    args: () => cli({}, "--storage", "s3://bucket/registry"),
  },
  {
    name: "--registry-config missing and no lockfiles", code: 3, args: () => cli({ "--registry-config": "/nonexistent/config.yml" }),
    stderr: /Cannot tell whether the registry uses its metadata database.*\/nonexistent\/config\.yml was not found.*--registry-config/,
  },
  {
    name: "-g is the registry", code: 2, args: () => cli({ "-g": env.registry.url }),
    stderr: "answered 404: the container registry is not enabled in this GitLab, or the GitLab URL is wrong",
  },
  {
    name: "-r is GitLab", code: 2, args: () => cli({ "-r": env.gitlab.url }),
    stderr: /Error: checking the registry at http:\/\/127\.0\.0\.1:\d+\/v2\/: GET \/v2\/ answered 404, so .* does not look like a container registry/,
  },
  {
    name: "deletes disabled in the registry", code: 1, args: () => cli({ "-r": proxy!.url }),
    stdout: /Stopped: deleting \S+: deletes are disabled in the registry/,
    setup: async () => {
      await setDeleteEnabled(env.registry, false);
      proxy = await startReverseProxy(env.registry.url);
      return async () => {
        await proxy!.close();
        await setDeleteEnabled(env.registry, true);
      };
    },
    check: () => {
      const deletes = proxy!.log.filter((r) => r.method === "DELETE");
      // Only those in flight when the first 405 came back: at most 4 per repository, of 14 candidates.
      expect(deletes.length).toBeGreaterThanOrEqual(1);
      expect(deletes.length).toBeLessThanOrEqual(8);
    },
  },
  {
    // Every repository it could clean failed the cross-check: a safety refusal, exit 3.
    name: "-p is another registry's storage", code: 3, args: () => cli({ "-p": otherStorage.root }),
    stderr: /Skipped repository group\/project \(1 untagged manifests.*, tags differ from the registry\).*is -p the storage of this registry\?/,
    stdout: /Check that -p is the storage of the registry given with -r/,
  },
];

beforeAll(async () => {
  env = await startEnvironment({
    users: [...DEFAULT_USERS, { username: READER.username, password: READER.secret }],
    projects: [{ path: "group/project", members: { dev: "maintainer", reader: "reporter" } }],
  });
  creds = await credentialsFile(env, ROOT);
  const ctx = env.pushContext();
  await pushTagHistory(ctx, "group/project", "latest", 12, { seed: 1 });
  await pushTagHistory(ctx, "group/project/other", "main", 4, { seed: 100 });
  baseline = await revisionLinks(env.registry.storageRoot);
  open = await mkdtemp(join(env.dir, "open-"));
  // Another registry's storage: same repository, other tags, one old untagged manifest.
  otherStorage = await createStorageTree();
  await otherStorage.push("group/project", imageManifest("elsewhere-tagged"), { tags: ["elsewhere"] });
  await otherStorage.push("group/project", imageManifest("elsewhere-untagged"), { linkedAt: Date.now() - 7 * 86_400_000 });
});

afterAll(async () => {
  await otherStorage?.cleanup();
  await env?.stop();
});

describe("bad input: clear message, exit code, nothing deleted", () => {
  it.each(rows)("$name", async (row) => {
    const after = await row.setup?.();
    try {
      const result = await runCli(await row.args(), { withoutFileCapabilities: row.withoutFileCapabilities === true });
      const output = `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
      expect(result.code, output).toBe(row.code);
      if (row.stderr) expect(result.stderr, output).toMatch(row.stderr);
      if (row.stdout) expect(result.stdout, output).toMatch(row.stdout);
      row.check?.();
    } finally {
      await after?.();
    }
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(baseline);
    expect(await revisionLinks(otherStorage.root)).toHaveLength(2);
  });
});
