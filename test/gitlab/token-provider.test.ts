/**
 * GitLabTokenProvider against a fault injector: a loopback HTTP server that answers `/jwt/auth`
 * the way each test scripts (refusals, 503s, resets, short-lived tokens) and records every
 * request. It is NOT an imitation of GitLab; the integration tests use the GitLab stand-in.
 */
import { closeServer, listenOnLoopback } from "../helpers/loopback.js";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import type { Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError, UsageError } from "../../src/core/errors.js";
import { parseRepositoryName, type RepositoryName } from "../../src/core/repository-name.js";
import { GitLabTokenProvider, type GitLabTokenProviderOptions, SCOPES_PER_DELETING_TOKEN } from "../../src/gitlab/token-provider.js";
import { createDispatcher } from "../../src/registry/http.js";
import { RegistryError } from "../../src/registry/registry-error.js";
import { startGitlabStandin, type StandinTagRule } from "../helpers/gitlab-standin.js";
import { createPki } from "../helpers/pki.js";

const USERNAME = "cleaner";
const SECRET = "s3cr3t-Pa55w0rd";

interface Recorded {
  url: URL;
  /** The query string as sent, without the "?". */
  query: string;
  authorization: string | undefined;
}

type Answer = (req: Recorded, res: ServerResponse) => void;

/** Loopback fault injector for /jwt/auth: scripted answers (the last repeats), every request recorded. */
class JwtAuthFaultInjector {
  readonly requests: Recorded[] = [];
  /** Every token handed out, in order. */
  readonly tokens: string[] = [];
  #answers: Answer[] = [grant()];
  readonly #server: Server = createServer((req, res) => this.#handle(req, res));

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
    const url = new URL(req.url!, "http://injector");
    const recorded = { url, query: req.url!.split("?")[1] ?? "", authorization: req.headers.authorization };
    this.requests.push(recorded);
    const answer = this.#answers.length > 1 ? this.#answers.shift()! : this.#answers[0]!;
    answer(recorded, res);
  }
}

let tokenSerial = 0;

/** An unsigned JWT: the provider only decodes the payload. */
function jwt(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.c2lnbmF0dXJl`;
}

/**
 * Grants every requested scope (`delete` dropped for names containing "readonly", nothing for
 * "orphan"), each entry with `meta` when given, as GitLab adds project metadata.
 */
function grant(lifetimeSeconds = 300, meta?: Record<string, unknown>): Answer {
  return (req, res) => {
    const iat = Math.floor(Date.now() / 1000);
    const access = req.url.searchParams.getAll("scope").flatMap((scope) => {
      const [, name, actions] = scope.split(":");
      if (name!.includes("orphan")) return [];
      const granted = actions!.split(",").filter((a) => a !== "delete" || !name!.includes("readonly"));
      return [{ type: "repository", name, actions: granted, ...(meta ? { meta } : {}) }];
    });
    const exp = iat + lifetimeSeconds;
    const token = jwt({ iss: "omnibus-gitlab-issuer", iat, nbf: iat - 5, exp, jti: ++tokenSerial, access });
    injector.tokens.push(token);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token }));
  };
}

const refuse = (status: number, code: string, message: string): Answer => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ errors: [{ code, message }], http_status: status }));
};
const reset: Answer = (_req, res) => res.socket?.destroy();

const repo = (text: string): RepositoryName => parseRepositoryName(text)!;
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as {
  jti: number; access: { name: string; actions: string[] }[];
};

let injector: JwtAuthFaultInjector;
let gitlabUrl: URL;
let dispatcher: Dispatcher;
let clock: number;

function provider(options: Partial<GitLabTokenProviderOptions> = {}): GitLabTokenProvider {
  return new GitLabTokenProvider({
    gitlabUrl, username: USERNAME, secret: SECRET, dispatcher, now: () => clock,
    retry: { sleep: async () => undefined, random: () => 0 }, ...options,
  });
}

/** Everything an error could leak through: message, stack, inspect (with causes), JSON. */
function everythingSaidBy(error: unknown): string {
  return [String(error), (error as Error).stack, inspect(error, { depth: 10 }), JSON.stringify(error)].join("\n");
}

beforeEach(async () => {
  injector = new JwtAuthFaultInjector();
  gitlabUrl = await injector.start();
  dispatcher = createDispatcher();
  clock = Date.parse("2025-06-01T12:00:00Z");
});

afterEach(async () => {
  await dispatcher.close();
  await injector.stop();
});

describe("requests", () => {
  it("asks for pull,delete with Basic auth and the registry service", async () => {
    await provider().tokenFor(repo("group/app"));
    const [request] = injector.requests;
    expect(request!.url.pathname).toBe("/jwt/auth");
    expect(request!.url.searchParams.get("service")).toBe("container_registry");
    expect(request!.url.searchParams.getAll("scope")).toEqual(["repository:group/app:pull,delete"]);
    expect(request!.authorization).toBe(`Basic ${Buffer.from(`${USERNAME}:${SECRET}`).toString("base64")}`);
  });

  it("batches 300 repositories into a few requests, each query under 6 KB and each token under 7 KB", async () => {
    const names = Array.from({ length: 300 }, (_, i) => repo(`group-${i % 7}/project-number-${i}/image-${i}`));
    const tokens = provider();
    const access = await tokens.authorize(names);
    expect(injector.requests.length).toBeGreaterThan(1);
    expect(injector.requests.length).toBeLessThanOrEqual(8);
    for (const request of injector.requests) expect(request.query.length).toBeLessThanOrEqual(6000);
    for (const token of injector.tokens) expect(token.length).toBeLessThanOrEqual(7168);
    const scopes = injector.requests.flatMap((r) => r.url.searchParams.getAll("scope"));
    expect(scopes).toHaveLength(300);
    expect(scopes.every((scope) => scope.endsWith(":pull,delete"))).toBe(true);
    expect([...access.values()].every(Boolean)).toBe(true);
    expect(tokens.requestCount).toBe(injector.requests.length);
    // Every repository now has a cached token: no further request.
    await Promise.all(names.map((name) => tokens.tokenFor(name)));
    expect(injector.requests.length).toBe(tokens.requestCount);
  });

  it("keeps tokens with GitLab's per-repository metadata under 8 KB, sized from the tokens returned", async () => {
    // GitLab adds project metadata to every access entry (about 300 bytes each in the token).
    injector.script(grant(300, { project_path: "x".repeat(60), project_id: 123456, root_namespace_id: 7890, tag_deny_access_patterns: { delete: [] } }));
    const names = Array.from({ length: 200 }, (_, i) => repo(`group-${i % 7}/project-number-${i}/image-${i}`));
    const tokens = provider();
    await tokens.verifyCredentials();
    await tokens.authorize(names);
    const withScopes = injector.tokens.slice(1);
    for (const token of withScopes) expect(`Authorization: Bearer ${token}`.length).toBeLessThanOrEqual(7168 + 22);
    // Learned after the first: the later tokens are nearly full, so there are few of them.
    expect(Math.min(...withScopes.slice(1, -1).map((token) => token.length))).toBeGreaterThan(6000);
    expect(injector.requests.flatMap((r) => r.url.searchParams.getAll("scope"))).toHaveLength(200);
  });

  it("honours a smaller maxTokenBytes", async () => {
    const names = Array.from({ length: 40 }, (_, i) => repo(`group/project-${i}`));
    const tokens = provider({ maxTokenBytes: 1500 });
    await tokens.verifyCredentials();
    await tokens.authorize(names);
    for (const token of injector.tokens) expect(token.length).toBeLessThanOrEqual(1500);
    expect(injector.requests.length).toBeGreaterThanOrEqual(5);
  });

  it("honours a smaller maxQueryBytes", async () => {
    const names = Array.from({ length: 40 }, (_, i) => repo(`group/project-${i}`));
    await provider({ maxQueryBytes: 500 }).authorize(names);
    expect(injector.requests.length).toBeGreaterThanOrEqual(4);
    for (const request of injector.requests) expect(request.query.length).toBeLessThanOrEqual(500);
  });

  it("honours maxScopesPerToken: a run that deletes asks for 20 repositories a token, though more would fit", async () => {
    const names = Array.from({ length: 45 }, (_, i) => repo(`group/project-${i}`));
    const perRequest = (): number[] => injector.requests.map((request) => request.url.searchParams.getAll("scope").length);
    await provider({ maxScopesPerToken: SCOPES_PER_DELETING_TOKEN }).authorize(names);
    // The first token is sized from a guess (17 entries fit 7 KB at 400 bytes each), the next from what it showed.
    expect(perRequest()).toEqual([17, 20, 8]);
    injector.requests.length = 0;
    await provider().authorize(names);
    expect(perRequest()).toEqual([17, 28]);
  });

  it("asked ahead, sends only full requests, and the rest with the next authorize: no more requests than at once", async () => {
    const names = Array.from({ length: 40 }, (_, i) => repo(`group/project-${i}`));
    const atOnce = provider({ maxTokenBytes: 1500 });
    await atOnce.verifyCredentials();
    await atOnce.authorize(names);
    const requestsAtOnce = injector.requests.length;
    injector.requests.length = 0;

    const ahead = provider({ maxTokenBytes: 1500 });
    await ahead.verifyCredentials();
    const granted: Array<Promise<boolean>> = [];
    // One name per turn, as a scan plans repositories.
    for (const name of names.slice(0, 30)) {
      granted.push(ahead.authorizeAhead(name));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const sentAhead = injector.requests.length - 1;
    expect(sentAhead).toBeGreaterThan(0);
    // Each a full request (the first sized by a guess, as with authorize): none for the last few names yet.
    expect(injector.requests.slice(1).flatMap((r) => r.url.searchParams.getAll("scope")).length).toBeLessThan(30);
    const access = await ahead.authorize(names);
    expect(await Promise.all(granted)).toEqual(names.slice(0, 30).map(() => true));
    expect([...access.values()].every(Boolean)).toBe(true);
    expect(injector.requests.length).toBeLessThanOrEqual(requestsAtOnce);
    expect(injector.requests.flatMap((r) => r.url.searchParams.getAll("scope"))).toHaveLength(40);
  });

  it("checking names already granted sends nothing, and leaves the names asked ahead waiting for a full request", async () => {
    const tokens = provider();
    const first = repo("group/first");
    await tokens.authorize([first]);
    expect(injector.requests).toHaveLength(1);
    // A streamed dry run checks each repository as it comes, while the next ones wait ahead.
    const waiting = tokens.authorizeAhead(repo("group/waiting"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...(await tokens.authorize([first]))]).toEqual([[first, true]]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(injector.requests).toHaveLength(1);
    // A name not granted yet is asked for now, with what waits ahead.
    expect([...(await tokens.authorize([repo("group/needed-now")]))]).toEqual([[repo("group/needed-now"), true]]);
    expect(await waiting).toBe(true);
    expect(injector.requests).toHaveLength(2);
    expect(injector.requests[1]!.url.searchParams.getAll("scope")).toHaveLength(2);
  });

  it("asked ahead, a name waits no longer than until a token is needed now", async () => {
    const tokens = provider();
    const ahead = tokens.authorizeAhead(repo("group/waiting"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(injector.requests).toHaveLength(0);
    await tokens.tokenFor(repo("group/needed-now"));
    expect(await ahead).toBe(true);
    expect(injector.requests).toHaveLength(1);
    expect(injector.requests[0]!.url.searchParams.getAll("scope")).toHaveLength(2);
  });

  it("reads from the token which repositories may be deleted in", async () => {
    const names = [repo("group/app"), repo("group/readonly-app"), repo("gone/orphan/image")];
    const access = await provider().authorize([...names, names[0]!]);
    expect([...access]).toEqual([[names[0], true], [names[1], false], [names[2], false]]);
    expect(injector.requests).toHaveLength(1);
  });

  it("asks for pull,push for restore, and reads where push was granted", async () => {
    // Push dropped for names containing "readonly", as GitLab drops it below the Developer role.
    injector.script((req, res) => {
      const iat = Math.floor(Date.now() / 1000);
      const access = req.url.searchParams.getAll("scope").map((scope) => {
        const [, name, actions] = scope.split(":");
        return { type: "repository", name, actions: actions!.split(",").filter((a) => a !== "push" || !name!.includes("readonly")) };
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: jwt({ iat, nbf: iat - 5, exp: iat + 300, access }) }));
    });
    const names = [repo("group/app"), repo("group/readonly-app")];
    const access = await provider({ actions: "pull,push" }).authorize(names);
    expect(injector.requests[0]!.url.searchParams.getAll("scope")).toEqual(names.map((n) => `repository:${n}:pull,push`));
    expect([...access]).toEqual([[names[0], true], [names[1], false]]);
    await provider({ actions: "pull" }).authorize(names);
    expect(injector.requests[1]!.url.searchParams.getAll("scope")).toEqual(names.map((n) => `repository:${n}:pull`));
  });

  it("names protected repositories when a request asking for push is refused with 403", async () => {
    injector.script(refuse(403, "DENIED", "access forbidden"));
    const error = await provider({ actions: "pull,push" }).authorize([repo("group/app")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain("Protected container repositories");
  });

  it("coalesces concurrent requests for one repository and batches different ones", async () => {
    const tokens = provider();
    const same = await Promise.all(Array.from({ length: 20 }, () => tokens.tokenFor(repo("group/app"))));
    expect(new Set(same).size).toBe(1);
    expect(injector.requests).toHaveLength(1);
    const names = Array.from({ length: 20 }, (_, i) => repo(`other/app-${i}`));
    await Promise.all(names.map((name) => tokens.tokenFor(name)));
    expect(injector.requests).toHaveLength(2);
    expect(injector.requests[1]!.url.searchParams.getAll("scope")).toHaveLength(20);
  });
});

describe("cache and renewal", () => {
  it("reuses a token until 30 s before it expires, then renews it", async () => {
    const tokens = provider();
    const first = await tokens.tokenFor(repo("group/app"));
    clock += 269_000;
    expect(await tokens.tokenFor(repo("group/app"))).toBe(first);
    expect(injector.requests).toHaveLength(1);
    clock += 2_000;
    const second = await tokens.tokenFor(repo("group/app"));
    expect(second).not.toBe(first);
    expect(injector.requests).toHaveLength(2);
  });

  it("renews after expiry", async () => {
    const tokens = provider();
    const first = await tokens.tokenFor(repo("group/app"));
    clock += 600_000;
    expect(payloadOf(await tokens.tokenFor(repo("group/app"))).jti).toBeGreaterThan(payloadOf(first).jti);
  });

  it("still uses a token of a few seconds, with a margin of a third of its life", async () => {
    injector.script(grant(3));
    const tokens = provider();
    const first = await tokens.tokenFor(repo("group/app"));
    clock += 1_900;
    expect(await tokens.tokenFor(repo("group/app"))).toBe(first);
    clock += 200;
    expect(await tokens.tokenFor(repo("group/app"))).not.toBe(first);
  });

  it("shares one token among the repositories it was issued for", async () => {
    const tokens = provider();
    await tokens.authorize([repo("a/one"), repo("a/two")]);
    expect(await tokens.tokenFor(repo("a/one"))).toBe(await tokens.tokenFor(repo("a/two")));
    expect(injector.requests).toHaveLength(1);
  });

  it("renews every repository that shared a token in one request, not one request each", async () => {
    const tokens = provider();
    const names = Array.from({ length: 100 }, (_, i) => repo(`group/app-${i}`));
    await tokens.authorize(names);
    const issuing = injector.requests.length;
    expect(issuing).toBeLessThanOrEqual(3);
    clock += 600_000;
    // Repositories come due one after another as a long run reaches them.
    for (const name of names) await tokens.tokenFor(name);
    const renewals = injector.requests.slice(issuing);
    expect(renewals.length).toBeLessThanOrEqual(issuing);
    expect(renewals.flatMap((r) => r.url.searchParams.getAll("scope"))).toHaveLength(100);
  });

  it("refresh drops the cached token; concurrent refreshes share one request", async () => {
    const tokens = provider();
    const first = await tokens.tokenFor(repo("group/app"));
    const refreshed = await Promise.all(
      Array.from({ length: 10 }, () => tokens.tokenFor(repo("group/app"), { refresh: true })),
    );
    expect(new Set(refreshed).size).toBe(1);
    expect(refreshed[0]).not.toBe(first);
    expect(injector.requests).toHaveLength(2);
  });
});

describe("verifyCredentials and refusals", () => {
  it("sends one request without scope", async () => {
    await provider().verifyCredentials();
    expect(injector.requests).toHaveLength(1);
    expect(injector.requests[0]!.url.searchParams.getAll("scope")).toEqual([]);
  });

  it("stops at a 401: AuthError, not retried, never another login, secret nowhere", async () => {
    injector.script(refuse(401, "UNAUTHORIZED", "HTTP Basic: Access denied."));
    const tokens = provider();
    const error = await tokens.verifyCredentials().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ exitCode: 4 });
    const message = (error as Error).message;
    expect(message).toContain(`user ${USERNAME} at ${gitlabUrl.origin}`);
    expect(message).toContain("check the username and password");
    expect(message).toContain("two-factor authentication need a personal access token with the `api` scope");
    expect(message).toContain("blocks an address after repeated failed logins");
    const said = everythingSaidBy(error);
    expect(said).not.toContain(SECRET);
    expect(said).not.toContain(Buffer.from(`${USERNAME}:${SECRET}`).toString("base64"));
    await expect(tokens.tokenFor(repo("group/app"))).rejects.toBe(error);
    await expect(tokens.authorize([repo("a/b"), repo("c/d")])).rejects.toBe(error);
    expect(injector.requests).toHaveLength(1);
    expect(tokens.requestCount).toBe(1);
  });

  it("does not send the remaining batches after a 401", async () => {
    injector.script(refuse(401, "UNAUTHORIZED", "HTTP Basic: Access denied."));
    const names = Array.from({ length: 300 }, (_, i) => repo(`group/project-number-${i}/image`));
    await expect(provider().authorize(names)).rejects.toBeInstanceOf(AuthError);
    expect(injector.requests).toHaveLength(1);
  });

  it("403: AuthError saying the credential has no registry access", async () => {
    injector.script(refuse(403, "DENIED", "access forbidden"));
    const error = await provider().verifyCredentials().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain("no registry ability");
    expect(everythingSaidBy(error)).not.toContain(SECRET);
  });

  it("404: UsageError about the registry being off or the wrong URL", async () => {
    injector.script(refuse(404, "UNAVAILABLE", "registry not enabled"));
    const error = await provider().verifyCredentials().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ exitCode: 2 });
    expect((error as Error).message).toContain("container registry is not enabled");
    expect(injector.requests).toHaveLength(1);
  });
});

describe("transient failures", () => {
  it("retries 503 and then succeeds", async () => {
    injector.script(refuse(503, "UNAVAILABLE", "try later"), grant());
    const tokens = provider();
    await tokens.tokenFor(repo("group/app"));
    expect(injector.requests).toHaveLength(2);
    expect(tokens.requestCount).toBe(2);
  });

  it("retries a reset connection", async () => {
    injector.script(reset, grant());
    await provider().verifyCredentials();
    expect(injector.requests).toHaveLength(2);
  });

  it("gives up after the attempt bound with context and without the secret", async () => {
    injector.script(refuse(502, "BAD_GATEWAY", "upstream"));
    const error = await provider().tokenFor(repo("group/app")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toBe(
      `requesting a registry token from ${gitlabUrl.origin}/jwt/auth: 502 BAD_GATEWAY: upstream`,
    );
    expect(injector.requests).toHaveLength(5);
    expect(everythingSaidBy(error)).not.toContain(SECRET);
  });

  it("retries GitLab's 500 (Puma restarting) and then succeeds", async () => {
    injector.script(refuse(500, "INTERNAL", "boom"), refuse(500, "INTERNAL", "boom"), grant());
    await provider().verifyCredentials();
    expect(injector.requests).toHaveLength(3);
  });

  it("gives up on a 500 that lasts, after the attempt bound", async () => {
    injector.script(refuse(500, "INTERNAL", "boom"));
    await expect(provider().verifyCredentials()).rejects.toBeInstanceOf(RegistryError);
    expect(injector.requests).toHaveLength(5);
  });

  it("reports an unreachable GitLab with context and without the secret", async () => {
    await injector.stop();
    const error = await provider({ retry: { attempts: 2, sleep: async () => undefined } })
      .verifyCredentials().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^requesting a registry token from .*: .*ECONNREFUSED/);
    expect(everythingSaidBy(error)).not.toContain(SECRET);
    injector = new JwtAuthFaultInjector();
    await injector.start();
  });

  it("rejects an answer without a JWT", async () => {
    injector.script((_req, res) => res.end(JSON.stringify({ token: "not-a-jwt" })));
    await expect(provider().verifyCredentials()).rejects.toThrow("without a JWT");
  });
});

describe("tag protection from the tokens", () => {
  it("reads meta.tag_deny_access_patterns and tag_immutable_patterns with the access claim, per repository", async () => {
    injector.script(grant(300, { project_path: "group/app", tag_deny_access_patterns: { delete: ["v.*", "latest"] }, tag_immutable_patterns: ["release-.*"] }));
    const tokens = provider();
    expect(tokens.tagProtection(repo("group/app"))).toBeUndefined();
    await tokens.authorize([repo("group/app"), repo("group/other")]);
    const protection = { denyDelete: ["v.*", "latest"], denyPush: [], immutable: ["release-.*"] };
    expect(tokens.tagProtection(repo("group/app"))).toEqual(protection);
    expect(tokens.tagProtection(repo("group/other"))).toEqual(protection);
    expect(tokens.tagProtection(repo("group/never-asked"))).toBeUndefined();
    expect(injector.requests).toHaveLength(1);
  });

  it("is undefined for entries without tag patterns, and empty lists where GitLab sent empty ones", async () => {
    injector.script(grant(300, { project_path: "group/app", project_id: 1 }));
    const tokens = provider();
    await tokens.tokenFor(repo("group/app"));
    expect(tokens.tagProtection(repo("group/app"))).toBeUndefined();
    injector.script(grant(300, { tag_deny_access_patterns: {} }));
    await tokens.tokenFor(repo("group/app"), { refresh: true });
    expect(tokens.tagProtection(repo("group/app"))).toEqual({ denyDelete: [], denyPush: [], immutable: [] });
  });

  it("follows the latest token: a renewed one replaces the patterns", async () => {
    injector.script(grant(300, { tag_deny_access_patterns: { delete: ["v.*"] } }), grant(300, { tag_deny_access_patterns: { delete: ["v2.*"] } }));
    const tokens = provider();
    await tokens.tokenFor(repo("group/app"));
    clock += 600_000;
    await tokens.tokenFor(repo("group/app"));
    expect(tokens.tagProtection(repo("group/app"))?.denyDelete).toEqual(["v2.*"]);
  });
});

describe("against the GitLab stand-in's tokens", () => {
  const RULES: StandinTagRule[] = [
    { tagNamePattern: "v.*", minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "owner" },
    { tagNamePattern: "release-.*", immutable: true },
  ];

  it("gives a Maintainer the owner-only patterns, an admin none but the immutable ones, other projects nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "token-provider-"));
    const gitlab = await startGitlabStandin({
      pki: await createPki(dir),
      users: [{ username: "root", password: "root-pw", admin: true }, { username: "maint", password: "maint-pw" }],
      projects: [
        { path: "group/guarded", members: { maint: "maintainer" }, tagProtection: RULES },
        { path: "group/open", members: { maint: "maintainer" } },
      ],
    });
    try {
      const standin = (username: string, secret: string) => provider({ gitlabUrl: new URL(gitlab.url), username, secret, now: Date.now });
      const names = [repo("group/guarded/app"), repo("group/open/app")];
      const maintainer = standin("maint", "maint-pw");
      expect([...(await maintainer.authorize(names)).values()]).toEqual([true, true]);
      expect(maintainer.tagProtection(names[0]!)).toEqual({ denyDelete: ["v.*"], denyPush: [], immutable: ["release-.*"] });
      expect(maintainer.tagProtection(names[1]!)).toBeUndefined();
      const admin = standin("root", "root-pw");
      await admin.authorize(names);
      expect(admin.tagProtection(names[0]!)).toEqual({ denyDelete: [], denyPush: [], immutable: ["release-.*"] });
    } finally {
      await gitlab.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps tokens with GitLab's full meta on every entry under the size limit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "token-provider-"));
    const gitlab = await startGitlabStandin({
      pki: await createPki(dir),
      users: [{ username: "maint", password: "maint-pw" }],
      projects: Array.from({ length: 150 }, (_, i) => ({
        path: `group-${i % 5}/project-number-${i}`, members: { maint: "maintainer" as const }, ...(i % 2 ? { tagProtection: RULES } : {}),
      })),
    });
    gitlab.accessMetadata = true;
    try {
      const tokens = provider({ gitlabUrl: new URL(gitlab.url), username: "maint", secret: "maint-pw", now: Date.now });
      const names = Array.from({ length: 150 }, (_, i) => repo(`group-${i % 5}/project-number-${i}/image`));
      await tokens.verifyCredentials();
      const access = await tokens.authorize(names);
      expect([...access.values()].every(Boolean)).toBe(true);
      const issued = await Promise.all(names.map((name) => tokens.tokenFor(name)));
      for (const token of new Set(issued)) expect(token.length).toBeLessThanOrEqual(7168);
      expect(gitlab.authRequests).toBe(tokens.requestCount);
      expect(tokens.tagProtection(names[1]!)?.denyDelete).toEqual(["v.*"]);
      expect(tokens.tagProtection(names[2]!)).toBeUndefined();
    } finally {
      await gitlab.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("isAdministrator: the registry:catalog:* scope GitLab grants administrators only", () => {
  it("is true for an administrator's password and any of their tokens, false for everyone else, one request each", async () => {
    const dir = await mkdtemp(join(tmpdir(), "token-provider-"));
    const gitlab = await startGitlabStandin({
      pki: await createPki(dir),
      users: [
        { username: "root", password: "root-pw", admin: true, tokens: [{ token: "glpat-root-read", scopes: ["read_registry"] }] },
        { username: "maint", password: "maint-pw", tokens: [{ token: "glpat-maint-api", scopes: ["api"] }] },
      ],
      projects: [{ path: "group/app", members: { maint: "owner" } }],
    });
    try {
      const ask = async (username: string, secret: string): Promise<boolean> => {
        const tokens = provider({ gitlabUrl: new URL(gitlab.url), username, secret, now: Date.now });
        const answer = await tokens.isAdministrator();
        expect(tokens.requestCount).toBe(1);
        return answer;
      };
      expect(await ask("root", "root-pw")).toBe(true);
      // GitLab checks `current_user.admin?`, not the token's scopes.
      expect(await ask("root", "glpat-root-read")).toBe(true);
      expect(await ask("maint", "maint-pw")).toBe(false);
      expect(await ask("maint", "glpat-maint-api")).toBe(false);
      expect(gitlab.scopeLog.every((scopes) => scopes.length === 1 && scopes[0] === "registry:catalog:*")).toBe(true);
    } finally {
      await gitlab.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops at a refused login like every other request", async () => {
    injector.script((_req, res) => res.writeHead(401, { "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED"}]}'));
    const tokens = provider();
    await expect(tokens.isAdministrator()).rejects.toBeInstanceOf(AuthError);
    await expect(tokens.isAdministrator()).rejects.toBeInstanceOf(AuthError);
    expect(injector.requests).toHaveLength(1);
  });
});
