/**
 * GitLabRestApi's cleanup policies and protected tag rules against the GitLab stand-in (which
 * answers as GitLab documents, see test/integration/gitlab-standin.test.ts), and its messages
 * against a loopback server that answers what a broken GitLab or a proxy in front of it does.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AuthError, CleanupError, UsageError } from "../../src/core/errors.js";
import { GitLabRestApi } from "../../src/gitlab/api.js";
import { createDispatcher } from "../../src/registry/http.js";
import { startGitlabStandin, type GitlabStandin } from "../helpers/gitlab-standin.js";
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { createPki } from "../helpers/pki.js";

const DAY_MS = 86_400_000;
const MEMBERS = { maint: "maintainer", dev: "developer" } as const;

let dir: string;
let gitlab: GitlabStandin;
let dispatcher: Dispatcher;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gitlab-api-"));
  dispatcher = createDispatcher();
  gitlab = await startGitlabStandin({
    pki: await createPki(dir),
    users: [
      { username: "root", password: "root-password", admin: true, tokens: [{ token: "root-api", scopes: ["api"] }] },
      {
        username: "maint", password: "maint-password",
        tokens: [{ token: "maint-read", scopes: ["read_api"] }, { token: "maint-user", scopes: ["read_user"] }],
      },
      { username: "dev", password: "dev-password", tokens: [{ token: "dev-api", scopes: ["api"] }] },
    ],
    projects: [
      { path: "group/defaults", members: MEMBERS },
      {
        path: "group/nightly", members: MEMBERS,
        expirationPolicy: { enabled: true, keepN: 5, olderThan: "14d", nameRegex: "nightly-.*", nameRegexKeep: "nightly-keep" },
      },
      { path: "group/sixty", members: MEMBERS, expirationPolicy: { enabled: true, keepN: null, olderThan: "60d", nameRegex: null, nameRegexKeep: "" } },
      { path: "group/ancient", members: MEMBERS, expirationPolicy: null },
      { path: "secret/project", members: {} },
      {
        path: "group/protected", members: MEMBERS,
        tagProtection: [
          { tagNamePattern: "v.*", minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "owner" },
          { tagNamePattern: "release-.*", immutable: true },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await gitlab?.close();
  await dispatcher?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => gitlab.resetStats());

const api = (token: string, url = gitlab.url) =>
  new GitLabRestApi({ gitlabUrl: new URL(url), token, dispatcher, retry: { sleep: async () => undefined } });

/** Everything an error could leak through: message, stack, inspect (with causes), JSON. */
function everythingSaidBy(error: unknown): string {
  return [String(error), (error as Error).stack, inspect(error, { depth: 10 }), JSON.stringify(error)].join("\n");
}

describe("expirationPolicy", () => {
  it("reads the policies of several projects, each with one request", async () => {
    const rest = api("root-api");
    const paths = ["group/defaults", "group/nightly", "group/sixty"];
    const policies = await Promise.all(paths.map((path) => rest.expirationPolicy(path)));
    expect(policies).toEqual([
      { enabled: false, keepN: 10, olderThan: "90d", olderThanMs: 90 * DAY_MS, nameRegexDelete: ".*", nameRegexKeep: undefined },
      { enabled: true, keepN: 5, olderThan: "14d", olderThanMs: 14 * DAY_MS, nameRegexDelete: "nightly-.*", nameRegexKeep: "nightly-keep" },
      // GitLab's null name_regex matches no tag (`\A\z`): "" says so, and can never default to `.*`.
      { enabled: true, keepN: undefined, olderThan: "60d", olderThanMs: 60 * DAY_MS, nameRegexDelete: "", nameRegexKeep: undefined },
    ]);
    expect(gitlab.apiProjects("project").sort()).toEqual([...paths].sort());
  });

  it("is undefined for a project without a policy record, one the token cannot see, and one that does not exist", async () => {
    expect(await api("maint-read").expirationPolicy("group/ancient")).toBeUndefined();
    expect(await api("dev-api").expirationPolicy("secret/project")).toBeUndefined();
    expect(await api("root-api").expirationPolicy("group/missing")).toBeUndefined();
    expect(gitlab.apiLog.map((record) => record.status)).toEqual([200, 404, 404]);
  });

  it("refuses a password with exit 2: the API needs a personal access token with api", async () => {
    const error = await api("maint-password").expirationPolicy("group/nightly").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ exitCode: 2 });
    expect((error as Error).message).toBe(
      `reading the cleanup policy of project group/nightly at ${gitlab.url}/api/v4: 401 Unauthorized: GitLab's REST API ` +
        "takes personal access tokens only, and this secret is not one (a password?): use a personal access token " +
        "with the `api` scope (it also gets the registry tokens that delete)",
    );
    expect(everythingSaidBy(error)).not.toContain("maint-password");
  });

  it("refuses a token without api or read_api with exit 4, naming the scope", async () => {
    const error = await api("maint-user").expirationPolicy("group/nightly").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain("403 insufficient_scope: the token has neither `api` nor `read_api`");
    expect(everythingSaidBy(error)).not.toContain("maint-user");
  });
});

describe("tagProtectionRules", () => {
  it("lists the protected rules to a Maintainer with read_api; immutable rules only come in tokens", async () => {
    expect(await api("maint-read").tagProtectionRules("group/protected")).toEqual([
      { pattern: "v.*", minimumAccessLevelForDelete: "owner", minimumAccessLevelForPush: "maintainer" },
    ]);
    expect(await api("root-api").tagProtectionRules("group/defaults")).toEqual([]);
    expect(gitlab.apiProjects("tag-rules")).toEqual(["group/protected", "group/defaults"]);
  });

  it("is undefined below Maintainer (403) and for projects the token cannot see (404)", async () => {
    expect(await api("dev-api").tagProtectionRules("group/protected")).toBeUndefined();
    expect(await api("dev-api").tagProtectionRules("secret/project")).toBeUndefined();
    expect(gitlab.apiLog.map((record) => record.status)).toEqual([403, 404]);
  });

  it("refuses a password with exit 2", async () => {
    await expect(api("dev-password").tagProtectionRules("group/protected")).rejects.toBeInstanceOf(UsageError);
  });
});

describe("GitLab answering 500 with its HTML page (Puma restarting, a Rails exception)", () => {
  beforeEach(() => {
    gitlab.failNext("/api/v4/user", 0);
    gitlab.faultLog.length = 0;
  });

  it("repeats the GET, and succeeds once GitLab is back", async () => {
    gitlab.failNext("/api/v4/user", 2);
    expect(await api("root-api").currentUser()).toEqual({ username: "root", isAdmin: true });
    expect(gitlab.faultLog).toEqual(["/api/v4/user", "/api/v4/user"]);
  });

  it("gives up after the attempt bound with the status and one line, not the page", async () => {
    gitlab.failNext("/api/v4/user", 100);
    const error = await api("root-api").currentUser().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CleanupError);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toBe(
      `reading the current user at ${gitlab.url}/api/v4: ` +
        `500 Internal Server Error (an HTML page: "We're sorry, but something went wrong (500)")`,
    );
    expect(gitlab.faultLog).toHaveLength(5);
  });

  it("never repeats a 401", async () => {
    gitlab.resetStats();
    expect(await api("not-a-token").currentUser()).toBeUndefined();
    expect(gitlab.apiLog).toHaveLength(1);
  });
});

describe("answers that are not GitLab's", () => {
  let server: ReturnType<typeof createServer>;
  let url: URL;
  let answer: (res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((_req, res) => answer(res));
    url = await listenOnLoopback(server);
  });

  afterAll(() => closeServer(server));

  const RAILS_500 =
    "<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but something went wrong (500)</title>\n" +
    `  <style>${"body { color: #2e2e2e; }\n".repeat(200)}</style>\n</head>\n<body><h1>500</h1></body>\n</html>\n`;

  it("reports a 500 with an HTML page in one short line: status, status text, the page's title", async () => {
    answer = (res) => res.writeHead(500, { "content-type": "text/html; charset=utf-8" }).end(RAILS_500);
    for (const call of [(rest: GitLabRestApi) => rest.expirationPolicy("group/app"), (rest: GitLabRestApi) => rest.tagProtectionRules("group/app")]) {
      const error = await call(api("root-api", url.href)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CleanupError);
      expect(error).toMatchObject({ exitCode: 1 });
      const message = (error as Error).message;
      expect(message).toMatch(new RegExp(
        `^reading the (cleanup policy|protected tag rules) of project group/app at ${url.origin}/api/v4: ` +
          `500 Internal Server Error \\(an HTML page: "We're sorry, but something went wrong \\(500\\)"\\)$`,
      ));
      expect(message).not.toContain("<");
    }
  });

  it("says when a 200 answer is not a project, instead of reading no policy from it", async () => {
    answer = (res) => res.writeHead(200, { "content-type": "text/html" }).end("<html><body>Sign in</body></html>");
    const error = await api("root-api", url.href).expirationPolicy("group/app").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CleanupError);
    expect((error as Error).message).toBe(
      `reading the cleanup policy of project group/app at ${url.origin}/api/v4: the answer is not a project; is this GitLab's API?`,
    );
  });

  it("refuses a policy whose keep_n it cannot read rather than dropping the rule", async () => {
    answer = (res) => res.writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ id: 7, container_expiration_policy: { enabled: true, keep_n: "ten", older_than: "7d", name_regex: ".*" } }));
    await expect(api("root-api", url.href).expirationPolicy("group/app")).rejects.toThrow('has keep_n "ten", not a number of tags');
  });

  it("leaves olderThanMs undefined for an age GitLab does not offer, so the caller can refuse it", async () => {
    answer = (res) => res.writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ id: 7, container_expiration_policy: { enabled: true, keep_n: 1, older_than: "2 weeks", name_regex: ".*" } }));
    expect(await api("root-api", url.href).expirationPolicy("group/app")).toMatchObject({ olderThan: "2 weeks", olderThanMs: undefined });
  });
});
