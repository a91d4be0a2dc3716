/**
 * RegistryTagDeleter. The dummy-manifest method runs end to end against the real registry
 * (Debian's distribution 2.8.2, which has no tag delete) with tokens from the GitLab stand-in.
 * The registry's own tag delete (GitLab's registry 16.4+, distribution 3.x) is something that
 * binary cannot do, so only that path runs against an in-process double answering OPTIONS and
 * DELETE by tag the way GitLab's registry does; it is not an imitation of any other behaviour.
 */
import { createHash } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import type { Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseDigest, type Digest } from "../../src/core/digest.js";
import { MediaType } from "../../src/core/media-types.js";
import { parseRepositoryName, type RepositoryName } from "../../src/core/repository-name.js";
import type { TokenActions, TokenProvider } from "../../src/gitlab/ports.js";
import { GitLabTokenProvider } from "../../src/gitlab/token-provider.js";
import { DUMMY_CONFIG_DIGEST, DUMMY_MANIFEST, DUMMY_MANIFEST_DIGEST } from "../../src/registry/dummy-manifest.js";
import { createDispatcher } from "../../src/registry/http.js";
import { DeletesDisabledError } from "../../src/registry/registry-error.js";
import { RegistryClient } from "../../src/registry/registry-client.js";
import { RegistryTagDeleter } from "../../src/registry/tag-deleter.js";
import { DEFAULT_PROJECTS, DEV, ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushImage, tagManifest, type PushedManifest } from "../helpers/images.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { putManifest, uploadBlob, type Credentials } from "../helpers/registry-http.js";
import { hasRevision } from "../helpers/registry-state.js";

/** One request as the deleter sent it. */
interface Sent {
  method: string;
  path: string;
}

/** The run's dispatcher, recording every request it sends. */
function recordingDispatcher(log: Sent[]): Dispatcher {
  return createDispatcher().compose((dispatch) => (options, handler) => {
    log.push({ method: options.method, path: options.path });
    return dispatch(options, handler);
  });
}

/** What an interceptor does with one request: pass it on, or answer it with a registry error. */
type Verdict = "forward" | { status: number; code: string };

/**
 * A reverse proxy in front of the real registry that lets a test act on a request before it is
 * passed on (push in between, abort the run) or answer it with an error instead.
 */
async function startInterceptor(origin: string, decide: (method: string, path: string) => Promise<Verdict>): Promise<{ url: URL; close(): Promise<void> }> {
  const { hostname, port } = new URL(origin);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void decide(req.method!, req.url!).then((verdict) => {
      if (verdict !== "forward") {
        res.writeHead(verdict.status, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ errors: [{ code: verdict.code, message: `said ${verdict.code}` }] }));
      }
      const upstream = httpRequest({ host: hostname, port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on("error", () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    }));
  });
  return { url: await listenOnLoopback(server), close: () => closeServer(server) };
}

const digestOf = (manifest: PushedManifest): Digest => parseDigest(manifest.digest)!;
const repo = (text: string): RepositoryName => parseRepositoryName(text)!;

describe("on distribution 2.8.2, without tag delete: GitLab's dummy-manifest method", () => {
  let env: Environment;
  let sent: Sent[];
  let dispatcher: Dispatcher;
  let serial = 0;

  beforeAll(async () => {
    env = await startEnvironment({ projects: [...DEFAULT_PROJECTS, { path: "group/other", members: { dev: "maintainer" } }] });
  });
  afterAll(async () => env?.stop());
  beforeEach(() => {
    sent = [];
    dispatcher = recordingDispatcher(sent);
  });
  afterEach(async () => dispatcher.close());

  const provider = (actions: TokenActions, who: Credentials = ROOT): GitLabTokenProvider =>
    new GitLabTokenProvider({ gitlabUrl: new URL(env.gitlab.url), username: who.username, secret: who.secret, dispatcher, actions });
  /** `push: null` builds one without a push token source. */
  const deleter = (push: TokenActions | null = "pull,push,delete", who: Credentials = ROOT): RegistryTagDeleter =>
    new RegistryTagDeleter({
      baseUrl: new URL(env.registry.url), tokens: provider("pull,delete", who), dispatcher,
      ...(push ? { pushTokens: provider(push, who) } : {}),
    });
  const tagLink = (name: string, tag: string): string =>
    join(env.registry.storageRoot, "docker/registry/v2/repositories", name, "_manifests/tags", tag);
  const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);
  /** A fresh repository path in group/project, so tests do not see each other's tags. */
  const fresh = (): RepositoryName => repo(`group/project/t${++serial}`);
  const listTags = async (name: RepositoryName): Promise<string[]> =>
    (await new RegistryClient({ baseUrl: new URL(env.registry.url), tokens: provider("pull"), dispatcher }).listTags(name)).sort();

  it("authorizes the fallback's tokens only where GitLab grants both push and delete", async () => {
    const name = fresh();
    expect(await provider("pull,push,delete").authorize([name])).toEqual(new Map([[name, true]]));
    expect(await provider("pull,push,delete", DEV).authorize([repo("group/elsewhere")])).toEqual(new Map([[repo("group/elsewhere"), false]]));
  });

  it("detects no tag delete: OPTIONS lists DELETE, but a DELETE by tag answers 400 DIGEST_INVALID", async () => {
    const name = fresh();
    await pushImage(env.pushContext(), name, { tag: "a", seed: 1 });
    expect(await deleter().tagDeleteMethod(name)).toBe("dummy-manifest");
    const probes = sent.filter((request) => request.path.includes("gitlab-registry-cleanup-probe-"));
    expect(probes.map((request) => request.method)).toEqual(["OPTIONS", "DELETE"]);
  });

  it("deletes one of two tags on a digest: the other tag and the manifest's revision stay", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "keep", seed: 2 });
    await tagManifest(env.pushContext(), name, "drop", image);

    const outcomes = await deleter().deleteTags(name, new Map([["drop", digestOf(image)]]));

    expect(outcomes).toEqual(new Map([["drop", { kind: "deleted" }]]));
    expect(await listTags(name)).toEqual(["keep"]);
    expect(await exists(tagLink(name, "drop"))).toBe(false);
    expect(await exists(join(tagLink(name, "keep"), "current/link"))).toBe(true);
    expect(await hasRevision(env, name, image.digest)).toBe(true);
    // The dummy went; its config blob stays for garbage collection.
    expect(await hasRevision(env, name, DUMMY_MANIFEST_DIGEST)).toBe(false);
    // Never a DELETE by the original digest: the only DELETE by digest is the dummy's.
    const deletes = sent.filter((request) => request.method === "DELETE" && request.path.includes("/manifests/sha256:"));
    expect(deletes.map((request) => request.path)).toEqual([`/v2/${name}/manifests/${DUMMY_MANIFEST_DIGEST}`]);
  });

  it("sends GitLab's bytes: the 21-byte config blob and a manifest with no layers", () => {
    expect(DUMMY_CONFIG_DIGEST).toBe("sha256:4435000728ee66e6a80e55637fc22725c256b61de344a2ecdeaac6bdb36e8bc3");
    expect(JSON.parse(DUMMY_MANIFEST.toString())).toEqual({
      schemaVersion: 2, mediaType: MediaType.dockerManifest,
      config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 21, digest: DUMMY_CONFIG_DIGEST },
    });
  });

  it("deletes several tags of a repository with one DELETE of the dummy, and uploads the blob once per repository", async () => {
    const name = fresh();
    const first = await pushImage(env.pushContext(), name, { tag: "v1", seed: 3 });
    const second = await pushImage(env.pushContext(), name, { tag: "v2", seed: 4 });
    await tagManifest(env.pushContext(), name, "v1-alias", first);
    await pushImage(env.pushContext(), name, { tag: "v3", seed: 5 });
    const tags = deleter();

    const outcomes = await tags.deleteTags(name, new Map([["v1", digestOf(first)], ["v2", digestOf(second)]]));
    expect(outcomes).toEqual(new Map([["v1", { kind: "deleted" }], ["v2", { kind: "deleted" }]]));
    expect(await tags.deleteTags(name, new Map([["v1-alias", digestOf(first)]]))).toEqual(new Map([["v1-alias", { kind: "deleted" }]]));

    expect(await listTags(name)).toEqual(["v3"]);
    expect(await hasRevision(env, name, first.digest)).toBe(true);
    expect(await hasRevision(env, name, second.digest)).toBe(true);
    const count = (method: string, part: string): number =>
      sent.filter((request) => request.method === method && request.path.includes(part)).length;
    expect(count("DELETE", `/manifests/${DUMMY_MANIFEST_DIGEST}`)).toBe(2);
    expect(count("PUT", "/manifests/")).toBe(3);
    expect(count("POST", "/blobs/uploads/")).toBe(1);
    // Detection ran once for the run.
    expect(count("OPTIONS", "/manifests/")).toBe(1);
  });

  it("reports a tag already gone, and a tag pushed again since the plan as changed, without touching either", async () => {
    const name = fresh();
    const old = await pushImage(env.pushContext(), name, { tag: "moved", seed: 6 });
    const now = await pushImage(env.pushContext(), name, { tag: "moved", seed: 7 });

    const outcomes = await deleter().deleteTags(name, new Map([["moved", digestOf(old)], ["never-there", digestOf(old)]]));

    expect(outcomes).toEqual(new Map([
      ["moved", { kind: "changed", digest: now.digest }],
      ["never-there", { kind: "already-gone" }],
    ]));
    expect(await listTags(name)).toEqual(["moved"]);
    expect(sent.some((request) => request.method === "PUT" && request.path.includes("/manifests/"))).toBe(false);
  });

  it("also removes tags an interrupted GitLab cleanup left on the same dummy, and no other", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "old", seed: 8 });
    await tagManifest(env.pushContext(), name, "other", image);
    await uploadBlob(env.pushContext(), name, Buffer.from('{\n  "config": {\n  }\n}'));
    await putManifest(env.pushContext(), name, "left-by-gitlab", DUMMY_MANIFEST, MediaType.dockerManifest);

    expect(await deleter().deleteTags(name, new Map([["old", digestOf(image)]]))).toEqual(new Map([["old", { kind: "deleted" }]]));
    expect(await listTags(name)).toEqual(["other"]);
  });

  it("handles repositories independently: the blob is uploaded to each", async () => {
    const one = fresh();
    const two = repo("group/other");
    const a = await pushImage(env.pushContext(), one, { tag: "x", seed: 9 });
    const b = await pushImage(env.pushContext(), two, { tag: "x", seed: 10 });
    await pushImage(env.pushContext(), two, { tag: "y", seed: 11 });
    const tags = deleter("pull,push,delete", DEV);
    expect(await tags.deleteTags(one, new Map([["x", digestOf(a)]]))).toEqual(new Map([["x", { kind: "deleted" }]]));
    expect(await tags.deleteTags(two, new Map([["x", digestOf(b)]]))).toEqual(new Map([["x", { kind: "deleted" }]]));
    expect(await listTags(two)).toEqual(["y"]);
    expect(sent.filter((request) => request.method === "POST").length).toBe(2);
  });

  it("puts the tags back on their manifests when the DELETE of the dummy fails", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 14 });
    await tagManifest(env.pushContext(), name, "b", image);
    const proxy = await startInterceptor(env.registry.url, async (method, path) =>
      method === "DELETE" && path.endsWith(DUMMY_MANIFEST_DIGEST) ? { status: 500, code: "UNKNOWN" } : "forward");
    try {
      const tags = new RegistryTagDeleter({
        baseUrl: proxy.url, tokens: provider("pull,delete"), pushTokens: provider("pull,push,delete"), dispatcher,
      });
      const outcomes = await tags.deleteTags(name, new Map([["a", digestOf(image)], ["b", digestOf(image)]]));
      for (const tag of ["a", "b"]) {
        expect(outcomes.get(tag)).toEqual({
          kind: "failed",
          message: `deleting tag ${name}:${tag}: deleting the empty manifest ${name}@${DUMMY_MANIFEST_DIGEST.slice(0, 19)}…: ` +
            `500 UNKNOWN: said UNKNOWN; the tag was put back on ${image.digest}`,
        });
      }
    } finally {
      await proxy.close();
    }
    const client = new RegistryClient({ baseUrl: new URL(env.registry.url), tokens: provider("pull"), dispatcher });
    expect(await listTags(name)).toEqual(["a", "b"]);
    for (const tag of ["a", "b"]) {
      expect((await client.getManifest(name, digestOf(image)))?.bytes).toEqual(image.bytes);
      expect(await readFile(join(tagLink(name, tag), "current/link"), "utf8")).toBe(image.digest);
    }
  });

  it("finishes after Ctrl-C: the tags already moved are deleted, the rest not attempted", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 15 });
    await tagManifest(env.pushContext(), name, "b", image);
    const controller = new AbortController();
    const proxy = await startInterceptor(env.registry.url, async (method, path) => {
      // Ctrl-C while the dummy is being put under the first tag.
      if (method === "PUT" && path.endsWith("/manifests/a")) controller.abort(new Error("interrupted"));
      return "forward";
    });
    try {
      const tags = new RegistryTagDeleter({
        baseUrl: proxy.url, tokens: provider("pull,delete"), pushTokens: provider("pull,push,delete"), dispatcher,
        signal: controller.signal,
      });
      await tags.tagDeleteMethod(name);
      const outcomes = await tags.deleteTags(name, new Map([["a", digestOf(image)], ["b", digestOf(image)]]));
      expect(outcomes).toEqual(new Map([
        ["a", { kind: "deleted" }],
        ["b", { kind: "failed", message: `deleting tag ${name}:b: not attempted, the run was interrupted` }],
      ]));
    } finally {
      await proxy.close();
    }
    expect(await listTags(name)).toEqual(["b"]);
    expect(await hasRevision(env, name, DUMMY_MANIFEST_DIGEST)).toBe(false);
  });

  it("cannot close one gap: a push of the tag between its read and the PUT of the dummy is overwritten", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 16 });
    let pushed: PushedManifest | undefined;
    const proxy = await startInterceptor(env.registry.url, async (method, path) => {
      if (method === "PUT" && path.endsWith("/manifests/a") && !pushed) pushed = await pushImage(env.pushContext(), name, { tag: "a", seed: 17 });
      return "forward";
    });
    try {
      const tags = new RegistryTagDeleter({
        baseUrl: proxy.url, tokens: provider("pull,delete"), pushTokens: provider("pull,push,delete"), dispatcher,
      });
      expect(await tags.deleteTags(name, new Map([["a", digestOf(image)]]))).toEqual(new Map([["a", { kind: "deleted" }]]));
    } finally {
      await proxy.close();
    }
    // The tag pushed in the gap went too; its manifest stays, untagged, for a repair to re-tag it.
    expect(await listTags(name)).toEqual([]);
    expect(await hasRevision(env, name, pushed!.digest)).toBe(true);
    expect(await hasRevision(env, name, image.digest)).toBe(true);
  });

  it("without a push token source, fails every tag saying push is needed, and changes nothing", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 12 });
    const outcome = (await deleter(null).deleteTags(name, new Map([["a", digestOf(image)]]))).get("a");
    expect(outcome).toEqual({ kind: "failed", message: expect.stringMatching(new RegExp(`^deleting tag ${name}:a: .*needs a token with push`)) });
    expect(await listTags(name)).toEqual(["a"]);
  });

  it("rejects a tag name that is not one, without sending anything for it", async () => {
    const name = fresh();
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 13 });
    const outcomes = await deleter().deleteTags(name, new Map([["../a", digestOf(image)]]));
    expect(outcomes.get("../a")).toEqual({ kind: "failed", message: `deleting tag ${name}:../a: not a valid tag name` });
    expect(sent).toEqual([]);
  });
});

describe("on distribution 2.8.2, with a token GitLab gave no push", () => {
  let env: Environment;
  let dispatcher: Dispatcher;

  // dev is Maintainer (may delete); pushing here needs Owner, so GitLab silently drops push.
  beforeAll(async () => {
    env = await startEnvironment({ thresholds: { push: "owner" } });
  });
  afterAll(async () => env?.stop());
  beforeEach(() => {
    dispatcher = createDispatcher();
  });
  afterEach(async () => dispatcher.close());

  it("fails every tag with a message that says push is needed, and leaves the tags as they were", async () => {
    const name = repo("group/project");
    const image = await pushImage(env.pushContext(), name, { tag: "a", seed: 20 });
    await tagManifest(env.pushContext(), name, "b", image);
    const provider = (actions: TokenActions): GitLabTokenProvider =>
      new GitLabTokenProvider({ gitlabUrl: new URL(env.gitlab.url), username: DEV.username, secret: DEV.secret, dispatcher, actions });
    const pushTokens = provider("pull,push,delete");
    expect(await pushTokens.authorize([name])).toEqual(new Map([[name, false]]));
    const tags = new RegistryTagDeleter({ baseUrl: new URL(env.registry.url), tokens: provider("pull,delete"), pushTokens, dispatcher });

    const outcomes = await tags.deleteTags(name, new Map([["a", digestOf(image)], ["b", digestOf(image)]]));

    for (const tag of ["a", "b"]) {
      expect(outcomes.get(tag)).toEqual({
        kind: "failed",
        message: expect.stringMatching(new RegExp(`^deleting tag group/project:${tag}: uploading GitLab's empty config blob to group/project: 401 insufficient_scope: the token has no push right in group/project`)),
      });
    }
    const left = await new RegistryClient({ baseUrl: new URL(env.registry.url), tokens: provider("pull,delete"), dispatcher }).listTags(name);
    expect(left.sort()).toEqual(["a", "b"]);
  });
});

/** What the double answers for one request; undefined falls through to the defaults. */
type Script = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A registry with tag delete, as far as these tests need one: OPTIONS with `Allow`, GET of a
 * tag with its digest, DELETE by tag. Everything it was asked is recorded.
 */
class TagDeleteDouble {
  readonly requests: Sent[] = [];
  readonly manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, layers: [] }));
  script: Script = () => false;
  readonly #server: Server = createServer((req, res) => this.#handle(req, res));

  get digest(): Digest {
    return parseDigest(`sha256:${createHash("sha256").update(this.manifest).digest("hex")}`)!;
  }

  start(): Promise<URL> {
    return listenOnLoopback(this.#server);
  }

  stop(): Promise<void> {
    return closeServer(this.#server);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    req.on("end", () => {
      this.requests.push({ method: req.method!, path: req.url! });
      if (this.script(req, res)) return;
      const json = (status: number, code: string): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));
      };
      if (req.method === "OPTIONS") {
        res.writeHead(200, { allow: "GET, HEAD, PUT, DELETE" });
        return void res.end();
      }
      if (req.url!.includes("gitlab-registry-cleanup-probe-")) return json(404, "MANIFEST_UNKNOWN");
      if (req.method === "GET" && req.url!.endsWith("/manifests/gone")) return json(404, "MANIFEST_UNKNOWN");
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": MediaType.ociManifest, "docker-content-digest": this.digest });
        return void res.end(this.manifest);
      }
      if (req.method === "DELETE") {
        res.writeHead(202);
        return void res.end();
      }
      json(400, "UNSUPPORTED");
    });
  }
}

/** A TokenProvider double that counts what it is asked. */
class CountingTokens implements TokenProvider {
  calls = 0;
  readonly requestCount = 0;
  async verifyCredentials(): Promise<void> {}
  async authorize(names: readonly RepositoryName[]): Promise<Map<RepositoryName, boolean>> {
    return new Map(names.map((name) => [name, true]));
  }
  async tokenFor(): Promise<string> {
    this.calls++;
    return "token";
  }
}

describe("on a registry with tag delete (a double: the 2.8.2 binary cannot delete a tag by name)", () => {
  const name = repo("group/app");
  let double: TagDeleteDouble;
  let dispatcher: Dispatcher;
  let pushTokens: CountingTokens;
  let tags: RegistryTagDeleter;

  beforeEach(async () => {
    double = new TagDeleteDouble();
    const baseUrl = await double.start();
    dispatcher = createDispatcher();
    pushTokens = new CountingTokens();
    tags = new RegistryTagDeleter({ baseUrl, tokens: new CountingTokens(), pushTokens, dispatcher, retry: { sleep: async () => {} } });
  });
  afterEach(async () => {
    await dispatcher.close();
    await double.stop();
  });

  const respond = (match: (req: IncomingMessage) => boolean, status: number, code: string): Script => (req, res) => {
    if (!match(req)) return false;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code, message: `said ${code}` }] }));
    return true;
  };
  const deleteOf = (tag: string) => (req: IncomingMessage): boolean => req.method === "DELETE" && req.url === `/v2/group/app/manifests/${tag}`;

  it("detects tag delete from OPTIONS and a probe DELETE answered 404 MANIFEST_UNKNOWN, once per run", async () => {
    expect(await tags.tagDeleteMethod(name)).toBe("tag-delete");
    expect(await tags.tagDeleteMethod(repo("group/other"))).toBe("tag-delete");
    expect(double.requests.map((request) => request.method)).toEqual(["OPTIONS", "DELETE"]);
  });

  it("deletes by tag name after reading the tag, never by digest, and never asks for push", async () => {
    const outcomes = await tags.deleteTags(name, new Map([["v1", double.digest], ["v2", double.digest]]));
    expect(outcomes).toEqual(new Map([["v1", { kind: "deleted" }], ["v2", { kind: "deleted" }]]));
    const work = double.requests.slice(2).map((request) => `${request.method} ${request.path}`);
    expect(work).toEqual([
      "GET /v2/group/app/manifests/v1", "DELETE /v2/group/app/manifests/v1",
      "GET /v2/group/app/manifests/v2", "DELETE /v2/group/app/manifests/v2",
    ]);
    expect(pushTokens.calls).toBe(0);
  });

  it("tells gone, changed, protected, immutable and failed tags apart", async () => {
    const other = parseDigest(`sha256:${"ab".repeat(32)}`)!;
    const scripts = [
      respond(deleteOf("gone-now"), 404, "MANIFEST_UNKNOWN"),
      respond(deleteOf("prot"), 401, "PROTECTED_TAG"),
      respond(deleteOf("immut"), 401, "IMMUTABLE_TAG"),
      respond(deleteOf("broken"), 500, "UNKNOWN"),
    ];
    double.script = (req, res) => scripts.some((script) => script(req, res));
    const outcomes = await tags.deleteTags(name, new Map([
      ["gone", double.digest], ["gone-now", double.digest], ["elsewhere", other],
      ["prot", double.digest], ["immut", double.digest], ["broken", double.digest],
    ]));
    expect(outcomes).toEqual(new Map<string, unknown>([
      ["gone", { kind: "already-gone" }],
      ["gone-now", { kind: "already-gone" }],
      ["elsewhere", { kind: "changed", digest: double.digest }],
      ["prot", { kind: "protected", message: "said PROTECTED_TAG" }],
      ["immut", { kind: "protected", message: "said IMMUTABLE_TAG" }],
      ["broken", { kind: "failed", message: "deleting tag group/app:broken: 500 UNKNOWN: said UNKNOWN" }],
    ]));
    // A protection refusal is no expired token: no second attempt with a fresh one.
    expect(double.requests.filter((request) => request.method === "DELETE" && request.path.endsWith("/prot"))).toHaveLength(1);
  });

  it("throws DeletesDisabledError when the registry refuses deletes (405)", async () => {
    await tags.tagDeleteMethod(name);
    double.script = respond(deleteOf("v1"), 405, "UNSUPPORTED");
    const error = await tags.deleteTags(name, new Map([["v1", double.digest]])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeletesDisabledError);
    expect((error as Error).message).toMatch(/^deleting tag group\/app:v1: deletes are disabled in the registry/);
  });

  it.each([405, 404])("takes an OPTIONS answered %i for no tag delete, without a probe DELETE", async (status) => {
    double.script = (req, res) => {
      if (req.method !== "OPTIONS") return false;
      res.writeHead(status);
      res.end();
      return true;
    };
    expect(await tags.tagDeleteMethod(name)).toBe("dummy-manifest");
    expect(double.requests.map((request) => request.method)).toEqual(["OPTIONS"]);
  });

  it("asks again after a failed detection instead of caching the failure", async () => {
    double.script = respond((req) => req.method === "DELETE", 401, "DENIED");
    await expect(tags.tagDeleteMethod(name)).rejects.toThrow(/^checking whether the registry deletes tags by name \(in group\/app\): 401/);
    double.script = () => false;
    expect(await tags.tagDeleteMethod(name)).toBe("tag-delete");
  });
});
