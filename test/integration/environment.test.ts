/**
 * Proves the test infrastructure against the real registry: the stand-in's tokens are accepted,
 * its refusals look like GitLab's, pushed images are complete enough for skopeo, and the registry
 * behaviours the tool relies on (GITLAB.md §5, §11) hold.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_ACCEPT } from "../../src/core/media-types.js";
import { DEFAULT_USERS, DEV, ROOT, ROOT_TOKEN, startEnvironment, type Environment } from "../helpers/environment.js";
import { ACCESS_DENIED_MESSAGE, decodeTokenClaims } from "../helpers/gitlab-standin.js";
import { createPushContext, pushImage, pushMultiArch, pushReferrer, type PushContext } from "../helpers/images.js";
import { fetchToken, registryCall, type Credentials } from "../helpers/registry-http.js";
import { garbageCollect, startRegistry } from "../helpers/registry-server.js";
import { skopeoCopyAll } from "../helpers/skopeo.js";

const BUILDER: Credentials = { username: "builder", secret: "builder-password" };
const TWO_FACTOR: Credentials = { username: "careful", secret: "careful-password" };
const REPO = "group/project/app";

let env: Environment;
let root: PushContext;

beforeAll(async () => {
  env = await startEnvironment({
    users: [
      ...DEFAULT_USERS,
      { username: BUILDER.username, password: BUILDER.secret, tokens: [{ token: "glpat-builder-read", scopes: ["read_registry"] }] },
      { username: TWO_FACTOR.username, password: TWO_FACTOR.secret, twoFactor: true,
        tokens: [{ token: "glpat-careful-api", scopes: ["api"] }, { token: "glpat-careful-user", scopes: ["read_user"] }] },
    ],
    projects: [{ path: "group/project", members: { dev: "maintainer", builder: "developer", careful: "maintainer" } }],
  });
  root = env.pushContext(ROOT);
});

afterAll(async () => {
  await env?.stop();
});

/** Raw GET of /jwt/auth with a query string, for statuses and bodies exactly as sent. */
async function jwtAuth(query: string, credentials?: Credentials, method = "GET"): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.secret}`).toString("base64")}`;
  const response = await request(`${env.gitlab.realm}?${query}`, { method: method as "GET", headers });
  return { status: response.statusCode, body: await response.body.text() };
}

function actionsFor(token: string, name: string): string[] | undefined {
  return decodeTokenClaims(token).access.find((entry) => entry.name === name)?.actions;
}

describe("pushing and copying back", () => {
  it("pushes through the token flow, and skopeo copies every platform of an index", async () => {
    const oci = await pushMultiArch(root, REPO, { seed: 1, tag: "multi" });
    const docker = await pushMultiArch(root, REPO, { seed: 2, tag: "list", format: "docker" });
    for (const [tag, pushed] of [["multi", oci], ["list", docker]] as const) {
      const dest = join(env.dir, "copies", tag);
      await skopeoCopyAll(`docker://${env.registry.host}/${REPO}:${tag}`, `${DEV.username}:${DEV.secret}`, dest);
      const files = await readdir(dest);
      for (const child of pushed.children) expect(files).toContain(`${child.digest.slice(7)}.manifest.json`);
      for (const blob of pushed.children.flatMap((child) => child.blobDigests)) expect(files).toContain(blob.slice(7));
    }
    const signature = await pushReferrer(root, REPO, oci.index);
    await skopeoCopyAll(`docker://${env.registry.host}/${REPO}@${signature.digest}`, `${ROOT.username}:${ROOT.secret}`, join(env.dir, "copies", "sig"));
  });
});

describe("tokens the registry accepts or refuses", () => {
  it("gives a Developer no delete, and a DELETE with that token answers 401 insufficient_scope", async () => {
    const image = await pushImage(root, REPO, { seed: 10 });
    const token = await fetchToken(env.gitlab.realm, BUILDER, [`repository:${REPO}:pull,delete`]);
    expect(actionsFor(token, REPO)).toEqual(["pull"]);
    const refused = await registryCall(env.registry.url, "DELETE", `/v2/${REPO}/manifests/${image.digest}`, { token });
    expect(refused.status).toBe(401);
    expect(String(refused.headers["www-authenticate"])).toContain('error="insufficient_scope"');
    const rootToken = await fetchToken(env.gitlab.realm, ROOT, [`repository:${REPO}:pull`]);
    const head = await registryCall(env.registry.url, "HEAD", `/v2/${REPO}/manifests/${image.digest}`, {
      token: rootToken, headers: { accept: MANIFEST_ACCEPT },
    });
    expect(head.status).toBe(200);
  });

  it("covers several scopes, repeated and space-separated, with one token from one request", async () => {
    await pushImage(root, "group/project/one", { seed: 20, tag: "v1" });
    await pushImage(root, "group/project/two", { seed: 21, tag: "v1" });
    const before = env.gitlab.authRequests;
    const token = await fetchToken(env.gitlab.realm, DEV, [
      "repository:group/project/one:pull,delete",
      "repository:group/project/two:pull,delete repository:group/project:pull",
    ]);
    expect(env.gitlab.authRequests).toBe(before + 1);
    expect(env.gitlab.scopeLog.at(-1)).toHaveLength(3);
    expect(decodeTokenClaims(token).access.map((entry) => entry.name)).toEqual(["group/project/one", "group/project/two", "group/project"]);
    for (const repo of ["group/project/one", "group/project/two"]) {
      const tags = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token });
      expect(JSON.parse(tags.body.toString())).toEqual({ name: repo, tags: ["v1"] });
    }
  });

  it("gives no scope for a repository whose project is not among the 3 longest prefixes", async () => {
    const token = await fetchToken(env.gitlab.realm, ROOT, [
      "repository:group/project/a/b/c:pull,delete", "repository:group/project/a/b:pull", "registry:catalog:*",
    ]);
    expect(decodeTokenClaims(token).access).toEqual([
      { type: "repository", name: "group/project/a/b", actions: ["pull"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    expect(actionsFor(await fetchToken(env.gitlab.realm, DEV, ["registry:catalog:*"]), "catalog")).toBeUndefined();
  });

  it("accepts tokens whose entries carry GitLab's meta, tag patterns included", async () => {
    const repo = "group/guarded/app";
    const rule = { tagNamePattern: "v.*", minimumAccessLevelForPush: "owner", minimumAccessLevelForDelete: "owner" } as const;
    env.gitlab.addProject({ path: "group/guarded", members: { dev: "maintainer" }, tagProtection: [rule] });
    env.gitlab.accessMetadata = true;
    try {
      const image = await pushImage(root, repo, { seed: 70, tag: "v1" });
      const token = await fetchToken(env.gitlab.realm, DEV, [`repository:${repo}:pull,delete`]);
      expect(decodeTokenClaims(token).access[0]?.meta).toMatchObject({ project_path: "group/guarded", tag_deny_access_patterns: { delete: ["v.*"] } });
      const tags = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token });
      expect(JSON.parse(tags.body.toString())).toEqual({ name: repo, tags: ["v1"] });
      // Upstream distribution ignores the patterns (only GitLab's registry answers PROTECTED_MANIFEST):
      // honouring them is the tool's job.
      const head = await registryCall(env.registry.url, "HEAD", `/v2/${repo}/manifests/${image.digest}`, { token, headers: { accept: MANIFEST_ACCEPT } });
      expect(head.status).toBe(200);
    } finally {
      env.gitlab.accessMetadata = false;
      env.gitlab.removeProject("group/guarded");
    }
  });

  it("accepts a token 57 s past exp for a moment, and refuses one 70 s past", async () => {
    await pushImage(root, REPO, { seed: 30, tag: "expiry" });
    const tagsWithLifetime = async (seconds: number): Promise<number> => {
      env.gitlab.expirySeconds = seconds;
      const token = await fetchToken(env.gitlab.realm, DEV, [`repository:${REPO}:pull`]);
      return (await registryCall(env.registry.url, "GET", `/v2/${REPO}/tags/list`, { token })).status;
    };
    try {
      expect(await tagsWithLifetime(-57)).toBe(200);
      expect(await tagsWithLifetime(-70)).toBe(401);
    } finally {
      env.gitlab.expirySeconds = 300;
    }
  });
});

describe("the GitLab stand-in's answers", () => {
  it("refuses bad passwords and 2FA password logins with GitLab's 401, and POST and bad services with 404", async () => {
    const expected = { errors: [{ code: "UNAUTHORIZED", message: ACCESS_DENIED_MESSAGE }] };
    for (const credentials of [{ ...DEV, secret: "wrong" }, TWO_FACTOR]) {
      const answer = await jwtAuth(`service=container_registry&scope=repository:${REPO}:pull`, credentials);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toEqual(expected);
    }
    expect(await jwtAuth("service=container_registry", DEV, "POST")).toMatchObject({ status: 404 });
    expect(await jwtAuth("scope=registry:catalog:*", DEV)).toEqual({ status: 404, body: "" });
    expect(await jwtAuth("service=other", DEV)).toEqual({ status: 404, body: "" });
  });

  it("limits personal access tokens by scope and ignores their Basic username", async () => {
    const scope = [`repository:${REPO}:pull,push,delete`];
    const api = await fetchToken(env.gitlab.realm, { username: "anything", secret: "glpat-careful-api" }, scope);
    expect(decodeTokenClaims(api).sub).toBe(TWO_FACTOR.username);
    expect(actionsFor(api, REPO)).toEqual(["pull", "push", "delete"]);
    expect(actionsFor(await fetchToken(env.gitlab.realm, { ...BUILDER, secret: "glpat-builder-read" }, scope), REPO)).toEqual(["pull"]);
    const noRegistry = await jwtAuth(`service=container_registry&scope=${scope[0]}`, { ...TWO_FACTOR, secret: "glpat-careful-user" });
    expect(noRegistry.status).toBe(403);
    expect(JSON.parse(noRegistry.body)).toEqual({ errors: [{ code: "DENIED", message: "access forbidden" }], http_status: 403 });
    expect(decodeTokenClaims(await fetchToken(env.gitlab.realm, undefined, scope)).access).toEqual([]);
  });

  it("answers the REST API for tokens only", async () => {
    const api = async (path: string, headers: Record<string, string>) => {
      const response = await request(`${env.gitlab.url}/api/v4/${path}`, { headers });
      return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
    };
    expect(await api("user", { "private-token": ROOT_TOKEN.secret })).toMatchObject({ status: 200, body: { username: "root", is_admin: true } });
    expect(await api("user", { "private-token": ROOT.secret })).toEqual({ status: 401, body: { message: "401 Unauthorized" } });
    const project = await api("projects/group%2Fproject", { authorization: `Bearer ${ROOT_TOKEN.secret}` });
    expect(project).toMatchObject({ status: 200, body: { path_with_namespace: "group/project" } });
    expect(await api(`projects/${String(project.body.id)}`, { "private-token": ROOT_TOKEN.secret })).toMatchObject({ status: 200 });
    expect(await api("projects/group%2Fmissing", { "private-token": ROOT_TOKEN.secret })).toEqual({
      status: 404, body: { message: "404 Project Not Found" },
    });
  });
});

describe("registry behaviours the tool relies on", () => {
  it("refuses DELETE by tag, deletes by digest, then lists tags as null", async () => {
    const repo = "group/project/lonely";
    const image = await pushImage(root, repo, { seed: 40, tag: "only" });
    const token = await fetchToken(env.gitlab.realm, DEV, [`repository:${repo}:pull,delete`]);
    const byTag = await registryCall(env.registry.url, "DELETE", `/v2/${repo}/manifests/only`, { token });
    expect(byTag.status).toBe(400);
    const deleted = await registryCall(env.registry.url, "DELETE", `/v2/${repo}/manifests/${image.digest}`, { token });
    expect(deleted.status).toBe(202);
    const again = await registryCall(env.registry.url, "DELETE", `/v2/${repo}/manifests/${image.digest}`, { token });
    expect(again.status).toBe(404);
    const tags = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token });
    expect(JSON.parse(tags.body.toString())).toEqual({ name: repo, tags: null });
  });

  it("garbage-collects the blobs of a deleted manifest while the registry is stopped", async () => {
    const repo = "group/project/gc";
    const doomed = await pushImage(root, repo, { seed: 50 });
    const kept = await pushImage(root, repo, { seed: 51, tag: "kept" });
    const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${repo}:pull,delete`]);
    expect((await registryCall(env.registry.url, "DELETE", `/v2/${repo}/manifests/${doomed.digest}`, { token })).status).toBe(202);
    const blobPath = (digest: string) =>
      join(env.registry.storageRoot, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");
    await env.registry.stop();
    try {
      expect(await garbageCollect(env.registry.configPath)).toContain("blob eligible for deletion");
    } finally {
      await env.registry.restart();
    }
    for (const blob of doomed.blobDigests) await expect(stat(blobPath(blob))).rejects.toThrow();
    for (const blob of kept.blobDigests) await expect(stat(blobPath(blob))).resolves.toBeDefined();
    const tags = await registryCall(env.registry.url, "GET", `/v2/${repo}/tags/list`, { token });
    expect(JSON.parse(tags.body.toString()).tags).toEqual(["kept"]);
  });

  it("answers 405 UNSUPPORTED to DELETE when deletes are disabled", async () => {
    const other = await startRegistry({
      realm: env.gitlab.realm, issuer: env.gitlab.issuer, certPath: env.pki.certPath, deleteEnabled: false,
    });
    try {
      const image = await pushImage(createPushContext(other.url, env.gitlab.realm, ROOT), REPO, { seed: 60 });
      const token = await fetchToken(env.gitlab.realm, ROOT, [`repository:${REPO}:pull,delete`]);
      const refused = await registryCall(other.url, "DELETE", `/v2/${REPO}/manifests/${image.digest}`, { token });
      expect(refused.status).toBe(405);
      expect(refused.body.toString()).toContain("UNSUPPORTED");
    } finally {
      await other.dispose();
    }
  });
});
