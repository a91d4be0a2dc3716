/**
 * The S3 driver against a real S3 server (Ceph's RADOS gateway, test/helpers/s3-server.ts),
 * never an imitation: listings across pages, reads, the root check's messages, the credential
 * chain, and a gateway that stops answering mid-listing.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, type Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import { StorageUnavailableError, type StoredObject } from "../../src/storage/driver.js";
import { S3Driver, type S3DriverOptions } from "../../src/storage/s3/s3-driver.js";
import type { S3Settings } from "../../src/storage/s3/settings.js";
import { startS3Server } from "../helpers/s3-server.js";

type S3Server = Awaited<ReturnType<typeof startS3Server>>;

const BUCKET = "registry";
const ROOT = "registry/";
const REPOS = "docker/registry/v2/repositories/";
const REVISIONS = `${REPOS}group/app/_manifests/revisions/sha256/`;
/**
 * Three pages (1000 each) of revision links: listings must follow continuation tokens, and an
 * outage after the first page still meets a page not yet asked for (the driver reads one ahead).
 */
const MANY = 2_100;
const FAST_RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 40 };

const hex = (i: number) => i.toString(16).padStart(64, "0");
const revisionLink = (i: number) => `${REVISIONS}${hex(i)}/link`;
const TAG_LINK = `${REPOS}group/app/_manifests/tags/latest/current/link`;
const BLOB = `docker/registry/v2/blobs/sha256/00/${hex(1)}/data`;
const BLOB_BYTES = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }));

let server: S3Server;
let tmp: string;
const drivers: S3Driver[] = [];

beforeAll(async () => {
  server = await startS3Server();
  tmp = await mkdtemp(join(tmpdir(), "s3-driver-"));
  await server.createBucket(BUCKET);
  const puts = Array.from({ length: MANY }, (_, i) => () => server.putObject(BUCKET, ROOT + revisionLink(i), `sha256:${hex(i)}`));
  puts.push(() => server.putObject(BUCKET, ROOT + TAG_LINK, `sha256:${hex(1)}`), () => server.putObject(BUCKET, ROOT + BLOB, BLOB_BYTES));
  await runLimited(puts, 16);
  // A second bucket with the storage at its top, and one that is no registry at all.
  await server.createBucket("toplevel");
  await server.putObject("toplevel", TAG_LINK, `sha256:${hex(1)}`);
  await server.createBucket("other");
  await server.putObject("other", "backups/db.tar", "x");
});

afterAll(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function settings(more: Partial<S3Settings> = {}): S3Settings {
  return {
    bucket: BUCKET,
    rootDirectory: ROOT,
    region: server.region,
    endpoint: server.endpoint,
    secure: server.endpoint.startsWith("https:"),
    skipVerify: false,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    ...more,
  };
}

function driver(more: Partial<S3Settings> = {}, options: S3DriverOptions = {}): S3Driver {
  const made = new S3Driver(settings(more), { retry: FAST_RETRY, ...options });
  drivers.push(made);
  return made;
}

/** The error checkRoot throws, which must be a UsageError. */
async function rootFailure(made: S3Driver): Promise<string> {
  const error = await made.checkRoot().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  return (error as Error).message;
}

describe("list", () => {
  it("gives the sub-prefixes by name and the objects directly below a prefix", async () => {
    const listing = await driver().list(`${REPOS}group/app/_manifests/tags/latest/current/`);
    expect(listing.prefixes).toEqual([]);
    expect(listing.others).toEqual([]);
    expect(listing.objects).toEqual([{ key: TAG_LINK, size: 71, modifiedMs: expect.any(Number) }]);
    expect((await driver().list(`${REPOS}group/app/`)).prefixes).toEqual(["_manifests"]);
    expect((await driver().list(`${REPOS}group/app/_manifests`)).prefixes).toEqual(["revisions", "tags"]);
  });

  it("follows continuation tokens past a page of 1000", async () => {
    const listing = await driver().list(REVISIONS);
    expect(listing.prefixes).toHaveLength(MANY);
    expect(listing.prefixes.slice(0, 2)).toEqual([hex(0), hex(1)]);
    expect(listing.prefixes).toEqual([...listing.prefixes].sort());
    expect(listing.objects).toEqual([]);
  });

  it("lists the storage root, with a rootdirectory and at the bucket's top", async () => {
    expect(await driver().list("")).toEqual({ prefixes: ["docker"], objects: [], others: [] });
    expect(await driver({ bucket: "toplevel", rootDirectory: "" }).list("")).toEqual({ prefixes: ["docker"], objects: [], others: [] });
    expect((await driver({ bucket: "toplevel", rootDirectory: "" }).list("docker/registry/v2/")).prefixes).toEqual(["repositories"]);
  });

  it("gives an empty listing for a prefix that does not exist", async () => {
    expect(await driver().list(`${REPOS}nobody/`)).toEqual({ prefixes: [], objects: [], others: [] });
  });
});

describe("listObjects", () => {
  it("streams every object below a prefix in key order, across pages", async () => {
    const keys: string[] = [];
    let first: StoredObject | undefined;
    for await (const object of driver().listObjects(`${REPOS}group/`)) {
      first ??= object;
      keys.push(object.key);
    }
    expect(keys).toHaveLength(MANY + 1);
    expect(keys).toEqual([...keys].sort());
    expect(keys[0]).toBe(revisionLink(0));
    expect(keys.at(-1)).toBe(TAG_LINK);
    expect(first).toEqual({ key: revisionLink(0), size: 71, modifiedMs: expect.any(Number) });
  });

  it("gives nothing for a prefix that does not exist", async () => {
    const seen: StoredObject[] = [];
    for await (const object of driver().listObjects("docker/registry/v2/nothing/")) seen.push(object);
    expect(seen).toEqual([]);
  });
});

describe("get and stat", () => {
  it("reads the bytes and the time, which agrees with the listing's and stat's", async () => {
    const made = driver();
    const before = Date.now();
    await server.putObject(BUCKET, `${ROOT}docker/fresh`, "fresh bytes");
    const got = await made.get("docker/fresh");
    expect(got).toEqual({ bytes: Buffer.from("fresh bytes"), modifiedMs: expect.any(Number) });
    const { modifiedMs } = got as { modifiedMs: number };
    expect(modifiedMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
    expect(modifiedMs).toBeLessThanOrEqual(Date.now() + 2000);
    expect(await made.stat("docker/fresh")).toEqual({ key: "docker/fresh", size: 11, modifiedMs });
    expect((await made.list("docker/")).objects).toEqual([{ key: "docker/fresh", size: 11, modifiedMs }]);
    await server.deleteObject(BUCKET, `${ROOT}docker/fresh`);
  });

  it("answers undefined for a missing key", async () => {
    expect(await driver().get("docker/registry/v2/blobs/sha256/ff/missing/data")).toBeUndefined();
    expect(await driver().stat("docker/registry/v2/blobs/sha256/ff/missing/data")).toBeUndefined();
  });

  it("refuses a body over maxBytes by its size, and reads one of exactly maxBytes", async () => {
    expect(await driver().get(BLOB, BLOB_BYTES.length - 1)).toEqual({ tooLarge: BLOB_BYTES.length });
    expect(await driver().get(BLOB, BLOB_BYTES.length)).toMatchObject({ bytes: BLOB_BYTES });
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const agent = new Agent();
    let inFlight = 0;
    let peak = 0;
    const counting = {
      request: async (options: Dispatcher.RequestOptions) => {
        peak = Math.max(peak, ++inFlight);
        try {
          return await agent.request(options);
        } finally {
          inFlight--;
        }
      },
      close: () => agent.close(),
    } as unknown as Dispatcher;
    const made = driver({}, { concurrency: 4, dispatcher: counting });
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => made.get(revisionLink(i))));
    expect(got.map((g) => (g as { bytes: Buffer }).bytes.toString())).toEqual(Array.from({ length: 40 }, (_, i) => `sha256:${hex(i)}`));
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    await agent.close();
  });
});

describe("checkRoot", () => {
  it("accepts a registry storage root", async () => {
    await driver().checkRoot();
    await driver({ bucket: "toplevel", rootDirectory: "" }).checkRoot();
  });

  it("says the access key is unknown, naming the bucket, the endpoint and the source", async () => {
    const message = await rootFailure(driver({ accessKey: "AKIANOSUCHKEY0000000" }));
    expect(message).toBe(
      `S3 does not know the access key used for bucket "registry" at ${server.endpoint} (403 InvalidAccessKeyId). ` +
        "Check the access key in the registry config (accesskey and secretkey).",
    );
  });

  it("says the secret does not match, without showing it", async () => {
    const message = await rootFailure(driver({ secretKey: "wrong-secret-0123456789" }));
    expect(message).toMatch(new RegExp(`^S3 rejected the signature of requests to bucket "registry" at ${server.endpoint} \\(403 SignatureDoesNotMatch`));
    expect(message).toContain("the secret key from the registry config (accesskey and secretkey) does not belong to its access key");
    expect(message).not.toContain("wrong-secret");
    expect(message).not.toContain(server.secretKey);
  });

  it("says the bucket does not exist", async () => {
    const message = await rootFailure(driver({ bucket: "no-such-bucket" }));
    expect(message).toMatch(new RegExp(`^There is no bucket "no-such-bucket" at ${server.endpoint} \\(404 NoSuchBucket`));
    expect(message).toContain("Check bucket in the registry config's storage.s3 section");
  });

  it("says nothing listens at the endpoint, after the retries", async () => {
    const port = await closedPort();
    const message = await rootFailure(driver({ endpoint: `http://127.0.0.1:${port}`, secure: false }));
    expect(message).toBe(
      `Could not list bucket "registry": the S3 endpoint http://127.0.0.1:${port} did not answer after 3 attempts (ECONNREFUSED). ` +
        "Check regionendpoint in the registry config's storage.s3 section (or --s3-endpoint) and that the server is running.",
    );
  });

  it("says a bucket without registry keys below the root is not a storage root", async () => {
    expect(await rootFailure(driver({ rootDirectory: "elsewhere/" }))).toBe(
      's3://registry/elsewhere is not a registry storage root: no key in bucket "registry" starts with elsewhere/docker/registry/v2/repositories/ ' +
        "(s3://registry/elsewhere/ is empty). Check rootdirectory in the registry config's storage.s3 section.",
    );
    expect(await rootFailure(driver({ rootDirectory: "" }))).toContain("(s3://registry/ holds registry/)");
    expect(await rootFailure(driver({ bucket: "other", rootDirectory: "" }))).toContain("(s3://other/ holds backups/)");
  });
});

describe("credentials", () => {
  const noKeys = { accessKey: undefined, secretKey: undefined };
  const quietChain = { AWS_EC2_METADATA_DISABLED: "true", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_CONFIG_FILE: "/nonexistent/config" };

  it("names the registry config when it gives the keys", async () => {
    const made = driver();
    await made.checkRoot();
    expect(await made.credentialSource()).toBe("the registry config (accesskey and secretkey)");
  });

  it("takes AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment", async () => {
    const made = driver(noKeys, { env: { ...quietChain, AWS_ACCESS_KEY_ID: server.accessKey, AWS_SECRET_ACCESS_KEY: server.secretKey } });
    await made.checkRoot();
    expect(await made.credentialSource()).toBe("the environment (AWS_ACCESS_KEY_ID)");
  });

  it("takes a profile of the shared credentials file, through the SDK's chain", async () => {
    const file = join(tmp, "credentials");
    await writeFile(file, `[ops]\naws_access_key_id = ${server.accessKey}\naws_secret_access_key = ${server.secretKey}\n`);
    const made = driver(noKeys, { env: { ...quietChain, AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "ops" } });
    await made.checkRoot();
    expect(await made.credentialSource()).toBe("the shared credentials file (profile ops)");
  });

  it("names every place it looked when nothing gave credentials", async () => {
    // The SDK reads the metadata switch and its own first link from process.env.
    vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
    vi.stubEnv("AWS_ACCESS_KEY_ID", undefined);
    vi.stubEnv("AWS_PROFILE", undefined);
    try {
      const message = await rootFailure(driver(noKeys, { env: quietChain }));
      expect(message).toMatch(/^No S3 credentials found for bucket "registry": looked in the registry config \(accesskey\/secretkey\), the environment/);
      expect(message).toContain("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
      expect(message).toContain("AWS_PROFILE");
      expect(message).toContain("an instance role (ECS or EC2 metadata)");
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("interruption", () => {
  it("ends a listing with the signal's reason, not a storage error", async () => {
    const controller = new AbortController();
    const made = driver({}, { signal: controller.signal });
    const reading = (async () => {
      for await (const _object of made.listObjects(REVISIONS)) controller.abort(new Error("interrupted"));
    })();
    await expect(reading).rejects.toThrow("interrupted");
    await expect(made.get(TAG_LINK)).rejects.toThrow("interrupted");
  });
});

describe("an endpoint that stops answering", () => {
  it("ends a listing with StorageUnavailableError after the bounded retries, and works again once it is back", async () => {
    const made = driver();
    const retries: string[] = [];
    const watched = driver({}, { retry: { ...FAST_RETRY, onRetry: (event) => retries.push(event.reason) } });
    let seen = 0;
    let failure: unknown;
    try {
      for await (const _object of watched.listObjects(REVISIONS)) {
        // The first page is in and the second perhaps on its way; the third is asked for later.
        if (++seen === 1) await server.stopGateway();
      }
    } catch (error) {
      failure = error;
    }
    try {
      expect([1000, 2000]).toContain(seen);
      expect(failure).toBeInstanceOf(StorageUnavailableError);
      expect((failure as Error).message).toMatch(
        new RegExp(`^Could not read s3://registry/registry/${REVISIONS}: the S3 endpoint ${server.endpoint} did not answer after 3 attempts \\(`),
      );
      expect((failure as Error).message).toContain("The run stops here, since nothing is deleted without reading the bucket first");
      expect(retries).toHaveLength(2);
      await expect(made.get(TAG_LINK)).rejects.toBeInstanceOf(StorageUnavailableError);
    } finally {
      await server.startGateway();
    }
    expect(await made.get(TAG_LINK)).toMatchObject({ bytes: Buffer.from(`sha256:${hex(1)}`) });
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as { port: number };
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

async function runLimited(tasks: Array<() => Promise<unknown>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
