/**
 * RegistryClient against a fault injector: a loopback HTTP server that answers exactly what each
 * test scripts (429s, resets, 401 sequences, odd pagination). It is NOT an imitation of the
 * registry; behaviour against the real registry is covered by the integration tests.
 */
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { startForwardProxy } from "../helpers/proxies.js";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseDigest, type Digest } from "../../src/core/digest.js";
import { MANIFEST_ACCEPT, MediaType } from "../../src/core/media-types.js";
import { parseRepositoryName, type RepositoryName } from "../../src/core/repository-name.js";
import type { TokenProvider } from "../../src/gitlab/ports.js";
import { createDispatcher } from "../../src/registry/http.js";
import { RegistryClient } from "../../src/registry/registry-client.js";
import { DeletesDisabledError, RegistryError, TlsTrustError } from "../../src/registry/registry-error.js";
import { UsageError } from "../../src/core/errors.js";

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

type Answer = (req: Recorded, res: ServerResponse) => void;

/** Loopback fault injector: answers each request with the next scripted answer (the last repeats). */
class FaultInjector {
  readonly requests: Recorded[] = [];
  connections = 0;
  #answers: Answer[] = [];
  readonly #server: Server = createServer((req, res) => this.#handle(req, res));

  constructor() {
    this.#server.on("connection", () => this.connections++);
  }

  script(...answers: Answer[]): void {
    this.#answers = answers;
  }

  start(): Promise<URL> {
    return listenOnLoopback(this.#server);
  }

  stop(): Promise<void> {
    return closeServer(this.#server);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      this.requests.push(recorded);
      const answer = this.#answers.length > 1 ? this.#answers.shift()! : this.#answers[0];
      if (!answer) throw new Error("no answer scripted");
      answer(recorded, res);
    });
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};
const registryError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json(status, { errors: [{ code, message, detail: null }] }, headers);
const empty = (status: number, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, headers);
  res.end();
};
const reset: Answer = (_req, res) => res.socket?.destroy();

/** A TokenProvider double: token-1 until the first refresh, then token-2, … */
class CountingTokens implements TokenProvider {
  refreshes = 0;
  readonly requestCount = 0;
  async verifyCredentials(): Promise<void> {}
  async authorize(names: readonly RepositoryName[]): Promise<Map<RepositoryName, boolean>> {
    return new Map(names.map((name) => [name, true]));
  }
  async tokenFor(_name: RepositoryName, options?: { refresh?: boolean }): Promise<string> {
    if (options?.refresh) this.refreshes++;
    return `token-${this.refreshes + 1}`;
  }
}

const name = parseRepositoryName("group/app")!;
const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, layers: [] }));
const digest = parseDigest(`sha256:${createHash("sha256").update(manifestBytes).digest("hex")}`)!;
const otherDigest = parseDigest(`sha256:${"ab12".repeat(16)}`) as Digest;

let injector: FaultInjector;
let baseUrl: URL;
let dispatcher: Dispatcher;
let tokens: CountingTokens;
let client: RegistryClient;
let waits: number[];

beforeEach(async () => {
  injector = new FaultInjector();
  baseUrl = await injector.start();
  dispatcher = createDispatcher();
  tokens = new CountingTokens();
  waits = [];
  client = new RegistryClient({
    baseUrl, tokens, dispatcher, retry: { sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
  });
});

afterEach(async () => {
  await dispatcher.close();
  await injector.stop();
});

describe("deleteManifest", () => {
  it("sends an authenticated DELETE by digest and reports 202 as deleted", async () => {
    injector.script(empty(202));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "deleted" });
    expect(injector.requests).toMatchObject([{ method: "DELETE", url: `/v2/group/app/manifests/${digest}` }]);
    expect(injector.requests[0]!.headers.authorization).toBe("Bearer token-1");
  });

  it("reports 404 MANIFEST_UNKNOWN as already gone", async () => {
    injector.script(registryError(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "already-gone" });
  });

  it("does not take a 404 without a registry code for proof of absence", async () => {
    injector.script(empty(404));
    await expect(client.deleteManifest(name, digest)).rejects.toMatchObject({ status: 404 });
  });

  it("throws DeletesDisabledError on 405 and says how to enable deletes", async () => {
    injector.script(registryError(405, "UNSUPPORTED", "The operation is unsupported."));
    const error = await client.deleteManifest(name, digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeletesDisabledError);
    expect(error).toMatchObject({ exitCode: 1, status: 405, code: "UNSUPPORTED", repository: name, digest });
    expect((error as Error).message).toMatch(new RegExp(
      "^deleting group/app@sha256:[0-9a-f]{12}…: deletes are disabled in the registry " +
        "\\(405 UNSUPPORTED: The operation is unsupported\\.\\): ",
    ));
    expect((error as Error).message).toContain("storage.delete.enabled: true");
    expect((error as Error).message).toContain("registry['storage_delete_enabled'] = true");
    expect((error as Error).message).toContain("gitlab-ctl reconfigure");
    expect(injector.requests).toHaveLength(1);
  });

  it("reports PROTECTED_MANIFEST as protected without refreshing or retrying", async () => {
    injector.script(registryError(401, "PROTECTED_MANIFEST", "tag v1 is protected"));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "protected", message: "tag v1 is protected" });
    expect(tokens.refreshes).toBe(0);
    expect(injector.requests).toHaveLength(1);
  });

  it("refreshes the token once after a 401 and repeats the request", async () => {
    const challenge = { "www-authenticate": 'Bearer realm="x",service="container_registry",error="invalid_token"' };
    injector.script(registryError(401, "UNAUTHORIZED", "authentication required", challenge), empty(202));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "deleted" });
    expect(tokens.refreshes).toBe(1);
    expect(injector.requests.map((r) => r.headers.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  it("fails with context after a second 401", async () => {
    const challenge = {
      "www-authenticate": 'Bearer realm="x",scope="repository:group/app:delete",error="insufficient_scope"',
    };
    injector.script(registryError(401, "UNAUTHORIZED", "authentication required", challenge));
    const error = await client.deleteManifest(name, otherDigest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message.startsWith(
      "deleting group/app@sha256:ab12ab12ab12…: 401 UNAUTHORIZED: authentication required (insufficient_scope",
    )).toBe(true);
    expect(error).toMatchObject({ exitCode: 1, status: 401, code: "UNAUTHORIZED", repository: name });
    expect(error).toMatchObject({ digest: otherDigest });
    expect(tokens.refreshes).toBe(1);
    expect(injector.requests).toHaveLength(2);
  });

  it("honours Retry-After on 429", async () => {
    injector.script(registryError(429, "TOOMANYREQUESTS", "slow down", { "retry-after": "2" }), empty(202));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "deleted" });
    expect(waits).toEqual([2000]);
  });

  it("retries 503 with backoff, then succeeds", async () => {
    injector.script(empty(503), empty(503), empty(202));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "deleted" });
    expect(waits).toEqual([250, 500]);
    expect(injector.requests).toHaveLength(3);
  });

  it("retries after the connection is reset", async () => {
    injector.script(reset, empty(202));
    expect(await client.deleteManifest(name, digest)).toEqual({ kind: "deleted" });
    expect(injector.requests).toHaveLength(2);
  });

  it("gives up after five attempts with the last status in the message", async () => {
    injector.script(empty(502));
    await expect(client.deleteManifest(name, digest)).rejects.toThrow(/: 502 Bad Gateway$/);
    expect(injector.requests).toHaveLength(5);
  });

  it("does not retry 500", async () => {
    injector.script(registryError(500, "UNKNOWN", "unknown error"));
    await expect(client.deleteManifest(name, digest)).rejects.toThrow("500 UNKNOWN: unknown error");
    expect(injector.requests).toHaveLength(1);
  });

  it("reuses connections across answers of every kind, error bodies included", async () => {
    const round = [
      registryError(404, "MANIFEST_UNKNOWN", "manifest unknown"), registryError(401, "UNAUTHORIZED", "x"),
      empty(202), registryError(500, "UNKNOWN", "boom"), empty(202),
    ];
    injector.script(...round, ...round, ...round);
    for (let i = 0; i < 12; i++) await client.deleteManifest(name, digest).catch(() => undefined);
    expect(injector.requests).toHaveLength(15);
    // undici may open a second socket while the first is being released; an unread body would
    // pin its socket and make this grow with every request instead.
    expect(injector.connections).toBeLessThanOrEqual(2);
  });

  it("stops waiting between retries when aborted", async () => {
    const controller = new AbortController();
    const abortable = new RegistryClient({
      baseUrl, tokens, dispatcher, signal: controller.signal, retry: { baseDelayMs: 60_000, random: () => 1 },
    });
    injector.script(empty(503));
    const reason = new Error("interrupted");
    setTimeout(() => controller.abort(reason), 50);
    await expect(abortable.deleteManifest(name, digest)).rejects.toBe(reason);
    expect(injector.requests).toHaveLength(1);
  });
});

describe("listTags", () => {
  it("follows Link pagination relative to the base URL, asking for pages of 1000", async () => {
    const page = (tags: string[], next?: string): Answer =>
      json(200, { name, tags }, next ? { link: `<${next}>; rel="next"` } : {});
    injector.script(
      page(["a", "b"], "/v2/group/app/tags/list?last=b&n=1000"),
      page(["c", "d"], "/v2/group/app/tags/list?last=d&n=1000"),
      page(["e"]),
    );
    expect(await client.listTags(name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(injector.requests.map((r) => r.url)).toEqual([
      "/v2/group/app/tags/list?n=1000",
      "/v2/group/app/tags/list?last=b&n=1000",
      "/v2/group/app/tags/list?last=d&n=1000",
    ]);
    expect(injector.requests.every((r) => r.headers.authorization === "Bearer token-1")).toBe(true);
  });

  it('reads "tags": null as no tags', async () => {
    injector.script(json(200, { name, tags: null }));
    expect(await client.listTags(name)).toEqual([]);
  });

  it("never follows a Link to another host", async () => {
    injector.script(json(200, { name, tags: ["a"] }, { link: '<http://elsewhere.invalid/v2/x>; rel="next"' }));
    await expect(client.listTags(name)).rejects.toThrow("the next page is on another host");
    expect(injector.requests).toHaveLength(1);
  });

  it("stops when pagination loops", async () => {
    injector.script(json(200, { name, tags: ["a"] }, { link: '</v2/group/app/tags/list?n=1000>; rel="next"' }));
    await expect(client.listTags(name)).rejects.toThrow("repeats a page");
  });

  it("fails with context on 404 NAME_UNKNOWN", async () => {
    injector.script(registryError(404, "NAME_UNKNOWN", "repository name not known to registry"));
    await expect(client.listTags(name)).rejects.toThrow(
      "listing the tags of group/app: 404 NAME_UNKNOWN: repository name not known to registry",
    );
  });
});

describe("getManifest and headManifest", () => {
  const served: Answer = (_req, res) => {
    res.writeHead(200, { "content-type": `${MediaType.ociManifest}; charset=utf-8`, "docker-content-digest": digest });
    res.end(manifestBytes);
  };

  it("asks for every manifest type and returns the verified bytes with their media type", async () => {
    injector.script(served);
    const manifest = await client.getManifest(name, digest);
    expect(manifest).toEqual({ bytes: manifestBytes, mediaType: MediaType.ociManifest });
    expect(injector.requests[0]).toMatchObject({ method: "GET", url: `/v2/group/app/manifests/${digest}` });
    expect(injector.requests[0]!.headers.accept).toBe(MANIFEST_ACCEPT);
  });

  it("returns undefined on 404", async () => {
    injector.script(registryError(404, "MANIFEST_UNKNOWN", "manifest unknown"));
    expect(await client.getManifest(name, digest)).toBeUndefined();
  });

  it("refuses content that does not match the digest", async () => {
    injector.script(served);
    await expect(client.getManifest(name, otherDigest)).rejects.toThrow("the registry served content of digest");
  });

  it("HEAD gives media type and size", async () => {
    injector.script((_req, res) => {
      res.writeHead(200, { "content-type": MediaType.dockerList, "content-length": "123" });
      res.end();
    });
    expect(await client.headManifest(name, digest)).toEqual({ mediaType: MediaType.dockerList, size: 123 });
    expect(injector.requests[0]).toMatchObject({ method: "HEAD" });
    expect(injector.requests[0]!.headers.accept).toBe(MANIFEST_ACCEPT);
  });
});

describe("putManifest", () => {
  it("PUTs the bytes by digest with the manifest's media type", async () => {
    injector.script(empty(201, { "docker-content-digest": digest }));
    await client.putManifest(name, digest, { bytes: manifestBytes, mediaType: MediaType.ociManifest });
    expect(injector.requests[0]).toMatchObject({ method: "PUT", url: `/v2/group/app/manifests/${digest}` });
    expect(injector.requests[0]!.headers["content-type"]).toBe(MediaType.ociManifest);
    expect(injector.requests[0]!.body.equals(manifestBytes)).toBe(true);
  });

  it("fails when the registry stored it under another digest", async () => {
    injector.script(empty(201, { "docker-content-digest": otherDigest }));
    await expect(client.putManifest(name, digest, { bytes: manifestBytes, mediaType: MediaType.ociManifest }))
      .rejects.toThrow("stored it as");
  });
});

describe("ping", () => {
  it.each([
    ["true", { databaseEnabled: true }],
    ["false", { databaseEnabled: false }],
    [undefined, {}],
  ])("reads Gitlab-Container-Registry-Database-Enabled: %s", async (value, facts) => {
    injector.script(json(200, {}, value ? { "gitlab-container-registry-database-enabled": value } : {}));
    expect(await client.ping(name)).toEqual(facts);
    expect(injector.requests[0]).toMatchObject({ method: "GET", url: "/v2/" });
    expect(injector.requests[0]!.headers.authorization).toBe("Bearer token-1");
  });

  it("says -r does not look like a registry when /v2/ is not there (a usage error)", async () => {
    injector.script(empty(404));
    const error = await client.ping(name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`checking the registry at ${baseUrl.origin}/v2/: GET /v2/ answered 404`);
    expect((error as Error).message).toContain("not GitLab's");
  });
});

describe("TLS options of createDispatcher", () => {
  let dir: string;
  let cert: Buffer;
  let tlsServer: ReturnType<typeof createHttpsServer>;
  let tlsUrl: URL;

  beforeEach(async () => {
    // Node cannot create X.509 certificates; the openssl CLI does (as in test/helpers/pki.ts).
    dir = await mkdtemp(join(tmpdir(), "registry-client-tls-"));
    await promisify(execFile)("/usr/bin/openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ]);
    cert = await readFile(join(dir, "cert.pem"));
    tlsServer = createHttpsServer({ key: await readFile(join(dir, "key.pem")), cert }, (_req, res) => {
      res.writeHead(202);
      res.end();
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
    tlsUrl = new URL(`https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`);
  });

  afterEach(async () => {
    tlsServer.closeAllConnections();
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  async function deleteThrough(tls: Parameters<typeof createDispatcher>[0]): Promise<unknown> {
    const own = createDispatcher(tls);
    try {
      const tlsClient = new RegistryClient({ baseUrl: tlsUrl, tokens, dispatcher: own, retry: { attempts: 2 } });
      return await tlsClient.deleteManifest(name, digest).catch((e: unknown) => e);
    } finally {
      await own.close();
    }
  }

  it("refuses an untrusted certificate, without retrying, naming the fix", async () => {
    const error = await deleteThrough({});
    expect(error).toBeInstanceOf(TlsTrustError);
    expect((error as Error).message).toMatch(/self-signed certificate.*DEPTH_ZERO_SELF_SIGNED_CERT/);
    expect((error as Error).message).toContain("--ca-cert");
  });

  it("accepts it with insecure, or with the certificate as an extra CA", async () => {
    expect(await deleteThrough({ insecure: true })).toEqual({ kind: "deleted" });
    expect(await deleteThrough({ caCert: cert })).toEqual({ kind: "deleted" });
    expect(await deleteThrough({ caCert: cert.toString() })).toEqual({ kind: "deleted" });
  });

  it("applies the CA to connections tunnelled through HTTPS_PROXY", async () => {
    const proxy = await startForwardProxy();
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, https_proxy: process.env.https_proxy,
      NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    try {
      process.env.https_proxy = proxy.url;
      process.env.no_proxy = "";
      expect(await deleteThrough({ caCert: cert })).toEqual({ kind: "deleted" });
      expect(proxy.log.filter((r) => r.method === "CONNECT").map((r) => r.target)).toEqual([tlsUrl.host]);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await proxy.close();
    }
  });
});
