/**
 * The GitLab stand-in's answers about tags, checked against what GitLab documents and does
 * (GITLAB.md §12): projects' cleanup policies in `GET /projects/:id`, the protected tag rules
 * endpoint and who may read it, the tag patterns in registry tokens, and the request log.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { decodeTokenClaims, startGitlabStandin, type GitlabStandin, type StandinTagRule } from "../helpers/gitlab-standin.js";
import { createPki } from "../helpers/pki.js";
import { fetchToken, type Credentials } from "../helpers/registry-http.js";

const RULES: StandinTagRule[] = [
  { tagNamePattern: "v1.*", minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "maintainer" },
  { tagNamePattern: "latest", minimumAccessLevelForPush: "owner", minimumAccessLevelForDelete: "owner" },
  { tagNamePattern: "admin-only", minimumAccessLevelForPush: "admin", minimumAccessLevelForDelete: "admin" },
  { tagNamePattern: "release-.*", immutable: true },
];
const MEMBERS = { maint: "maintainer", dev: "developer", own: "owner" } as const;
const user = (username: string, tokens: { token: string; scopes: string[] }[] = []) => ({ username, password: `${username}-password`, tokens });
const password = (username: string): Credentials => ({ username, secret: `${username}-password` });

let dir: string;
let gitlab: GitlabStandin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gitlab-standin-"));
  gitlab = await startGitlabStandin({
    pki: await createPki(dir),
    users: [
      { ...user("root", [{ token: "root-api", scopes: ["api"] }]), admin: true },
      user("maint", [{ token: "maint-api", scopes: ["api"] }, { token: "maint-read", scopes: ["read_api"] }, { token: "maint-user", scopes: ["read_user"] }]),
      user("dev", [{ token: "dev-api", scopes: ["api"] }]),
      user("own", [{ token: "own-api", scopes: ["api"] }]),
      user("outsider", [{ token: "outsider-api", scopes: ["api"] }]),
    ],
    projects: [
      { path: "group/defaults", members: MEMBERS },
      {
        path: "group/nightly", members: MEMBERS,
        expirationPolicy: { enabled: true, cadence: "7d", keepN: 5, olderThan: "14d", nameRegex: "nightly-.*", nameRegexKeep: "nightly-keep" },
      },
      { path: "group/ancient", members: MEMBERS, expirationPolicy: null },
      { path: "group/protected", members: MEMBERS, tagProtection: RULES },
      { path: "other/public", public: true },
    ],
  });
});

afterAll(async () => {
  await gitlab?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  gitlab.resetStats();
  gitlab.accessMetadata = false;
});

async function api(path: string, token?: string): Promise<{ status: number; body: any }> {
  const response = await request(`${gitlab.url}/api/v4/${path}`, { headers: token ? { "private-token": token } : {} });
  return { status: response.statusCode, body: await response.body.json() };
}

const project = (path: string) => `projects/${encodeURIComponent(path)}`;
const rules = (path: string) => `${project(path)}/registry/protection/tag/rules`;

describe("GET /projects/:id: container_expiration_policy", () => {
  it("shows GitLab's defaults for a new project: disabled, daily, keep 10, older than 90d, .*", async () => {
    const { status, body } = await api(project("group/defaults"), "maint-api");
    expect(status).toBe(200);
    expect(body.container_expiration_policy).toEqual({
      cadence: "1d", enabled: false, keep_n: 10, older_than: "90d",
      name_regex: ".*", name_regex_delete: ".*", name_regex_keep: null, next_run_at: expect.any(String),
    });
    expect(Date.parse(body.container_expiration_policy.next_run_at)).toBeGreaterThan(Date.now());
  });

  it("shows a configured policy, by path and by numeric id, to read_api tokens too", async () => {
    const expected = {
      cadence: "7d", enabled: true, keep_n: 5, older_than: "14d",
      name_regex: "nightly-.*", name_regex_delete: "nightly-.*", name_regex_keep: "nightly-keep",
    };
    const byPath = await api(project("group/nightly"), "maint-read");
    expect(byPath.body.container_expiration_policy).toMatchObject(expected);
    const byId = await api(`projects/${String(byPath.body.id)}`, "dev-api");
    expect(byId.body.container_expiration_policy).toMatchObject(expected);
  });

  it("leaves the field out for a project without a policy record, and for anonymous callers", async () => {
    const ancient = await api(project("group/ancient"), "root-api");
    expect(ancient.status).toBe(200);
    expect(ancient.body).not.toHaveProperty("container_expiration_policy");
    const anonymous = await api(project("other/public"));
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).not.toHaveProperty("container_expiration_policy");
    expect((await api(project("other/public"), "outsider-api")).body.container_expiration_policy).toMatchObject({ enabled: false });
  });

  it("hides a private project from non-members behind 404, refuses passwords and read_user tokens", async () => {
    expect(await api(project("group/nightly"), "outsider-api")).toEqual({ status: 404, body: { message: "404 Project Not Found" } });
    expect(await api(project("group/nightly"), "maint-password")).toEqual({ status: 401, body: { message: "401 Unauthorized" } });
    expect(await api(project("group/nightly"), "maint-user")).toMatchObject({ status: 403, body: { error: "insufficient_scope" } });
    expect((await api(project("group/nightly"), "root-api")).status).toBe(200);
  });
});

describe("GET /projects/:id/registry/protection/tag/rules", () => {
  it("lists the mutable rules with GitLab's fields to Maintainers, Owners and admins", async () => {
    const { status, body } = await api(rules("group/protected"), "maint-read");
    expect(status).toBe(200);
    const { id: projectId } = (await api(project("group/protected"), "root-api")).body;
    const rule = (pattern: string, level: string) => ({
      id: expect.any(Number), project_id: projectId, tag_name_pattern: pattern,
      minimum_access_level_for_push: level, minimum_access_level_for_delete: level,
    });
    // The immutable rule (release-.*) is not listed: GitLab presents `tag_rules.mutable`.
    expect(body).toEqual([rule("v1.*", "maintainer"), rule("latest", "owner"), rule("admin-only", "admin")]);
    expect(new Set(body.map((rule: { id: number }) => rule.id)).size).toBe(3);
    for (const token of ["own-api", "root-api"]) expect(await api(rules("group/protected"), token)).toEqual({ status, body });
    expect(await api(rules("group/defaults"), "maint-api")).toEqual({ status: 200, body: [] });
  });

  it("answers 403 below Maintainer, 404 to non-members, 401 to anonymous callers and passwords", async () => {
    expect(await api(rules("group/protected"), "dev-api")).toEqual({ status: 403, body: { message: "403 Forbidden" } });
    expect(await api(rules("group/protected"), "outsider-api")).toEqual({ status: 404, body: { message: "404 Project Not Found" } });
    expect(await api(rules("group/protected"))).toEqual({ status: 401, body: { message: "401 Unauthorized" } });
    expect(await api(rules("other/public"))).toEqual({ status: 401, body: { message: "401 Unauthorized" } });
    expect((await api(rules("group/protected"), "maint-password")).status).toBe(401);
    expect(await api(rules("group/protected"), "maint-user")).toMatchObject({ status: 403, body: { error: "insufficient_scope" } });
  });
});

describe("tag patterns in registry tokens", () => {
  const entryFor = async (credentials: Credentials, scope: string) =>
    decodeTokenClaims(await fetchToken(gitlab.realm, credentials, [scope])).access[0];

  it("denies deleting the tags whose rule asks for more than the user's role, and lists immutable ones", async () => {
    const scope = "repository:group/protected/app:pull,delete";
    const { id, rootNamespaceId } = gitlab.getProject("group/protected")!;
    const meta = (patterns: string[], immutable = ["release-.*"]) => ({
      project_path: "group/protected", project_id: id, root_namespace_id: rootNamespaceId,
      tag_deny_access_patterns: { delete: patterns }, tag_immutable_patterns: immutable,
    });
    expect(await entryFor(password("maint"), scope)).toEqual({
      type: "repository", name: "group/protected/app", actions: ["pull", "delete"], meta: meta(["latest", "admin-only"]),
    });
    expect((await entryFor(password("own"), scope))?.meta).toEqual(meta(["admin-only"]));
    // Admins are never denied, but immutable tags bind them too.
    expect((await entryFor(password("root"), scope))?.meta).toEqual(meta([]));
  });

  it("keys the deny patterns by the actions granted: none for pull alone, push for push", async () => {
    const developer = await entryFor(password("dev"), "repository:group/protected/app:pull,delete");
    expect(developer?.actions).toEqual(["pull"]);
    expect(developer?.meta?.tag_deny_access_patterns).toEqual({});
    expect(developer?.meta).not.toHaveProperty("tag_immutable_patterns");
    const pushing = await entryFor(password("dev"), "repository:group/protected/app:pull,push");
    expect(pushing?.meta?.tag_deny_access_patterns).toEqual({ push: ["v1.*", "latest", "admin-only"] });
    expect(pushing?.meta?.tag_immutable_patterns).toEqual(["release-.*"]);
    const all = await entryFor(password("maint"), "repository:group/protected/app:*");
    expect(all?.meta?.tag_deny_access_patterns).toEqual({ push: ["latest", "admin-only"], delete: ["latest", "admin-only"] });
  });

  it("adds no meta for projects without rules unless accessMetadata asks for GitLab's on every entry", async () => {
    const scope = "repository:group/nightly/app:pull,delete";
    expect(await entryFor(password("maint"), scope)).toEqual({ type: "repository", name: "group/nightly/app", actions: ["pull", "delete"] });
    gitlab.accessMetadata = true;
    const entry = await entryFor(password("maint"), scope);
    const { id, rootNamespaceId } = gitlab.getProject("group/nightly")!;
    expect(entry?.meta).toEqual({ project_path: "group/nightly", project_id: id, root_namespace_id: rootNamespaceId });
    const other = await entryFor(password("root"), "repository:other/public/app:pull");
    expect(other?.meta?.root_namespace_id).not.toBe(rootNamespaceId);
  });
});

describe("the request log", () => {
  it("records each /api/v4 request with its endpoint, project, user and status", async () => {
    await api(project("group/nightly"), "maint-api");
    await api(project("group/defaults"), "maint-api");
    await api(rules("group/protected"), "dev-api");
    await api("user", "maint-api");
    await api(project("group/nightly"));
    expect(gitlab.apiProjects("project")).toEqual(["group/nightly", "group/defaults", "group/nightly"]);
    expect(gitlab.apiProjects("tag-rules")).toEqual(["group/protected"]);
    expect(gitlab.apiLog).toEqual([
      { method: "GET", endpoint: "project", project: "group/nightly", username: "maint", status: 200 },
      { method: "GET", endpoint: "project", project: "group/defaults", username: "maint", status: 200 },
      { method: "GET", endpoint: "tag-rules", project: "group/protected", username: "dev", status: 403 },
      { method: "GET", endpoint: "user", username: "maint", status: 200 },
      { method: "GET", endpoint: "project", project: "group/nightly", status: 404 },
    ]);
    gitlab.resetStats();
    expect(gitlab.apiLog).toEqual([]);
  });
});
