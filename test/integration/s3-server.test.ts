/**
 * Proves the S3 test infrastructure against the real programs: the RADOS gateway answers the
 * helper's signed requests, the registry stores on it with the same keys as on disk (layout in
 * OBJECT-STORAGE.md), garbage-collect runs against the bucket, and stop() leaves nothing running.
 */
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { request } from "undici";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type S3Environment } from "../helpers/environment.js";
import { pushImage, type PushedManifest } from "../helpers/images.js";
import { fetchToken, registryCall } from "../helpers/registry-http.js";
import { garbageCollect, startRegistry } from "../helpers/registry-server.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const REPO = "group/project/app";
const V2 = "docker/registry/v2";
const DAEMONS = ["client.rgw.a", "osd.0", "mon.a"];

let dir: string;
let s3: S3Server;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "s3-server-test-"));
  const started = performance.now();
  s3 = await startS3Server({ dir });
  console.info(`S3 server cold start: ${Math.round(performance.now() - started)} ms`);
});

afterAll(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The keys a registry writes for one pushed manifest, relative to `docker/registry/v2`. */
function manifestKeys(repo: string, image: PushedManifest, tag?: string): string[] {
  const hex = image.digest.slice("sha256:".length);
  const manifests = `repositories/${repo}/_manifests`;
  return [
    `${manifests}/revisions/sha256/${hex}/link`,
    `blobs/sha256/${hex.slice(0, 2)}/${hex}/data`,
    ...(tag ? [`${manifests}/tags/${tag}/current/link`, `${manifests}/tags/${tag}/index/sha256/${hex}/link`] : []),
    ...image.blobDigests.flatMap((digest) => [
      `repositories/${repo}/_layers/sha256/${digest.slice(7)}/link`,
      `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`,
    ]),
  ];
}

/** Keys under `<prefix>docker/registry/v2/`, relative to it; fails if the bucket holds anything else. */
async function registryKeys(bucket: string, prefix: string): Promise<string[]> {
  const all = await s3.listKeys(bucket);
  expect(all.filter(({ key }) => !key.startsWith(`${prefix}${V2}/`))).toEqual([]);
  return all.map(({ key }) => key.slice(`${prefix}${V2}/`.length));
}

/** Every regular file below a filesystem registry's `docker/registry/v2`, as bucket-style keys. */
async function treeKeys(storageRoot: string): Promise<string[]> {
  const root = join(storageRoot, V2);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(root, join(entry.parentPath, entry.name))).sort();
}

function isRunning(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, "utf8").then((stat) => !/^\d+ \(.*\) [ZX]/s.test(stat), () => false);
}

describe("the S3 server's own client", () => {
  it("creates buckets, writes, reads and deletes objects, and lists every page", async () => {
    await s3.createBucket("plain");
    await s3.createBucket("plain"); // already ours: still fine
    const before = Date.now() - 2_000;
    const names = Array.from({ length: 1_005 }, (_, index) => `page/${String(index).padStart(4, "0")}`);
    for (let start = 0; start < names.length; start += 32) {
      await Promise.all(names.slice(start, start + 32).map((key) => s3.putObject("plain", key, key)));
    }
    const odd = "odd/a b+c&d=é%.txt";
    await s3.putObject("plain", odd, Buffer.from([0, 1, 2, 255]));
    const listed = await s3.listKeys("plain", "page/");
    expect(listed.map(({ key }) => key)).toEqual(names);
    expect(listed.every(({ size, lastModified }) => size === 9 && lastModified.getTime() >= before)).toBe(true);
    expect(await s3.listKeys("plain", "odd/")).toMatchObject([{ key: odd, size: 4 }]);
    expect(await s3.getObject("plain", odd)).toEqual(Buffer.from([0, 1, 2, 255]));
    await s3.deleteObject("plain", odd);
    expect(await s3.getObject("plain", odd)).toBeUndefined();
    expect(await s3.listKeys("plain", "odd/")).toEqual([]);
    await expect(s3.getObject("missing-bucket", "key")).rejects.toThrow(/404.*NoSuchBucket/);
  });

  it("refuses an anonymous request for a private object", async () => {
    const unsigned = await request(`${s3.endpoint}/plain/page/0000`);
    expect(unsigned.statusCode).toBe(403);
    await unsigned.body.dump();
  });

  it("stops the gateway, then serves the same data on the same port again", async () => {
    await s3.putObject("plain", "survivor", "still here");
    await s3.stopGateway();
    await expect(request(`${s3.endpoint}/`)).rejects.toThrow(/ECONNREFUSED/);
    await s3.startGateway();
    expect((await s3.getObject("plain", "survivor"))?.toString()).toBe("still here");
  });
});

describe("a registry on S3, rootdirectory /", () => {
  let env: S3Environment;
  let tagged: PushedManifest;
  let untagged: PushedManifest;

  beforeAll(async () => {
    env = await startEnvironment({ s3: { server: s3, bucket: "registry" } });
    tagged = await pushImage(env.pushContext(), REPO, { seed: 1, tag: "v1" });
    untagged = await pushImage(env.pushContext(), REPO, { seed: 2, layers: 2 });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("writes the s3 section with the keys, and no filesystem section", async () => {
    const config = parse(await readFile(env.registry.configPath, "utf8")) as { storage: Record<string, unknown> };
    expect(config.storage).toMatchObject({
      s3: { regionendpoint: s3.endpoint, region: "us-east-1", bucket: "registry", accesskey: s3.accessKey,
        secretkey: s3.secretKey, rootdirectory: "/", secure: false, v4auth: true },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    });
    expect(config.storage.filesystem).toBeUndefined();
    expect(env.registry.s3).toMatchObject({ bucket: "registry", rootDirectory: "/" });
  });

  it("stores the same keys a filesystem registry stores for the same pushes", async () => {
    const keys = await registryKeys("registry", "");
    for (const key of [...manifestKeys(REPO, tagged, "v1"), ...manifestKeys(REPO, untagged)]) expect(keys).toContain(key);
    const link = await s3.getObject("registry", `${V2}/repositories/${REPO}/_manifests/tags/v1/current/link`);
    expect(link?.toString()).toBe(tagged.digest);
    const onDisk = await startEnvironment();
    try {
      await pushImage(onDisk.pushContext(), REPO, { seed: 1, tag: "v1" });
      await pushImage(onDisk.pushContext(), REPO, { seed: 2, layers: 2 });
      expect(keys).toEqual(await treeKeys(onDisk.registry.storageRoot));
    } finally {
      await onDisk.stop();
    }
  });

  it("garbage-collects the blobs of a deleted manifest from the bucket", async () => {
    const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${REPO}:pull,delete`]);
    const deleted = await registryCall(env.registry.url, "DELETE", `/v2/${REPO}/manifests/${untagged.digest}`, { token });
    expect(deleted.status).toBe(202);
    await env.registry.stop();
    try {
      expect(await garbageCollect(env.registry.configPath, env.registry.env)).toContain("blob eligible for deletion");
    } finally {
      await env.registry.restart();
    }
    const keys = await registryKeys("registry", "");
    const data = (digest: string): string => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
    for (const digest of [untagged.digest, ...untagged.blobDigests]) expect(keys).not.toContain(data(digest));
    for (const key of manifestKeys(REPO, tagged, "v1")) expect(keys).toContain(key);
    // Left behind by 2.8's garbage-collect on S3: a reader must tolerate links to missing blobs.
    for (const digest of untagged.blobDigests) expect(keys).toContain(`repositories/${REPO}/_layers/sha256/${digest.slice(7)}/link`);
  });

  it("cannot serve from S3 with AWS_CA_BUNDLE set, which is why the helper removes it from the child", async () => {
    // The machines set it (OBJECT-STORAGE.md); `serve` panics at start when it is, whatever the bundle.
    const refused = startRegistry({
      realm: env.gitlab.realm, issuer: env.gitlab.issuer, certPath: env.pki.certPath, env: { AWS_CA_BUNDLE: env.pki.certPath },
      storage: { s3: { endpoint: s3.endpoint, region: s3.region, bucket: "registry", accessKey: s3.accessKey, secretKey: s3.secretKey } },
    });
    await expect(refused).rejects.toThrow(/exited .* before it was ready[\s\S]*LoadCustomCABundleError/);
  });
});

describe("a registry on S3 under /registry, keys from the environment", () => {
  let env: S3Environment;

  beforeAll(async () => {
    env = await startEnvironment({ s3: { server: s3, bucket: "prefixed", rootDirectory: "/registry", credentialsInConfig: false } });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("stores everything under the prefix and garbage-collects with the same environment", async () => {
    const config = parse(await readFile(env.registry.configPath, "utf8")) as { storage: { s3: Record<string, unknown> } };
    expect(config.storage.s3).toMatchObject({ bucket: "prefixed", rootdirectory: "/registry" });
    expect(config.storage.s3).not.toHaveProperty("accesskey");
    expect(config.storage.s3).not.toHaveProperty("secretkey");
    expect(env.registry.env).toEqual({ AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey });
    const image = await pushImage(env.pushContext(), REPO, { seed: 3, tag: "latest" });
    const keys = await registryKeys("prefixed", "registry/");
    for (const key of manifestKeys(REPO, image, "latest")) expect(keys).toContain(key);
    await env.registry.stop();
    try {
      expect(await garbageCollect(env.registry.configPath, env.registry.env)).toContain(`${REPO}: marking manifest ${image.digest}`);
    } finally {
      await env.registry.restart();
    }
    expect(await registryKeys("prefixed", "registry/")).toEqual(keys);
  });
});

describe("stop()", () => {
  it("stops every daemon it started, by its pid file, and leaves no process running on this directory", async () => {
    const pids = await Promise.all(DAEMONS.map(async (name) => Number(await readFile(join(dir, `${name}.pid`), "utf8"))));
    for (const pid of pids) expect(await isRunning(pid)).toBe(true);
    await s3.stop();
    for (const pid of pids) expect(await isRunning(pid)).toBe(false);
    const ours: string[] = [];
    for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmdline.includes(dir) && (await isRunning(Number(pid)))) ours.push(cmdline.replaceAll("\0", " "));
    }
    expect(ours).toEqual([]);
    await expect(request(`${s3.endpoint}/`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
