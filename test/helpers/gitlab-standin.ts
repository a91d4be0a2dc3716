/**
 * A GitLab stand-in on a loopback port: `GET /jwt/auth` issues registry tokens the real registry
 * accepts, and a sliver of `/api/v4` answers token checks, project lookups (with their cleanup
 * policies), protected tag rules and container repositories (GITLAB.md §13). It follows what GitLab documents (GITLAB.md §1-§3, §12) so
 * the tool's tests exercise the same refusals and silent drops a real instance produces, and it
 * records what it was asked for tests and benchmarks.
 */
import { createPrivateKey, randomUUID, sign, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  accessFor, authenticateBasic, DEFAULT_THRESHOLDS, splitScopes,
  type AccessEntry, type RoleThresholds, type StandinProject, type StandinUser, type StoredProject,
} from "./gitlab-permissions.js";
import { recordRepository, type RepositoryProtectionRule, type StandinRepository } from "./gitlab-registry-repositories.js";
import { handleApi, sendJson, type ApiEndpoint, type ApiRequestRecord, type StandinState } from "./gitlab-rest.js";
import type { Pki } from "./pki.js";

export type {
  AccessEntry, Role, StandinExpirationPolicy, StandinProject, StandinToken, StandinUser, StoredProject,
} from "./gitlab-permissions.js";
export type { ApiEndpoint, ApiRequestRecord } from "./gitlab-rest.js";
export type { RepositoryProtectionRule, StandinRepository } from "./gitlab-registry-repositories.js";
export type { AccessMeta, ProtectionLevel, StandinTagRule } from "./gitlab-tag-rules.js";

/** The message GitLab sends with every 401 from /jwt/auth. */
export const ACCESS_DENIED_MESSAGE =
  "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect " +
  "or you're required to use a token instead of a password. If a token was provided, it was either incorrect, " +
  "expired, or improperly scoped.";

export interface GitlabStandinOptions {
  pki: Pki;
  /** Must equal the registry's `auth.token.issuer`. */
  issuer?: string;
  /** Must equal the registry's `auth.token.service`. */
  service?: string;
  /** Token lifetime; negative values issue tokens that expired that long ago. Default 300. */
  expirySeconds?: number;
  users?: StandinUser[];
  projects?: StandinProject[];
  thresholds?: Partial<RoleThresholds>;
  /** The registry host in each repository's `location`. Default `registry.example.com`. */
  registryHost?: string;
}

/** The claims of an issued token. */
export interface TokenClaims {
  iss: string;
  aud: string;
  sub?: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  access: AccessEntry[];
}

/** One /jwt/auth request as the stand-in saw it. */
export interface AuthRequestRecord {
  scopes: string[];
  /** The user the credential resolved to, if any. */
  username?: string;
  status: number;
}

/** A running stand-in. Mutators take effect for the next request. */
export class GitlabStandin {
  /** Token lifetime in seconds for tokens issued from now on; may be negative. */
  expirySeconds: number;
  /** False makes /jwt/auth answer 404 `UNAVAILABLE`, as GitLab does with the registry off. */
  registryEnabled = true;
  /**
   * True gives every access entry GitLab's `meta` (project path and ids, about 100 bytes more per
   * entry), as a real instance does. False (default, what older tests assert): only entries of
   * projects with tag rules carry it, since their patterns live there.
   */
  accessMetadata = false;
  readonly issuer: string;
  readonly service: string;
  readonly authLog: AuthRequestRecord[] = [];
  /** Faults still to serve, by path (`/jwt/auth`, `/api/v4/user`): see {@link failNext}. */
  private readonly faults = new Map<string, { times: number; status: number; body: string }>();
  /** The path of every request answered with a fault, in order. */
  readonly faultLog: string[] = [];
  lastClaims: TokenClaims | undefined;
  private readonly state: StandinState;
  private readonly thresholds: RoleThresholds;
  private readonly key: KeyObject;
  private readonly keyId: string;
  private server: Server | undefined;
  private port = 0;

  private constructor(options: GitlabStandinOptions) {
    this.issuer = options.issuer ?? "gitlab-issuer";
    this.service = options.service ?? "container_registry";
    this.expirySeconds = options.expirySeconds ?? 300;
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.state = {
      users: new Map(), userIds: new Map(), projects: new Map(), namespaceIds: new Map(), nextId: 1,
      thresholds: this.thresholds, apiLog: [],
      repositories: { byId: new Map(), protection: new Map(), deleteDelayMs: 50, registryHost: options.registryHost ?? "registry.example.com" },
    };
    this.key = createPrivateKey(options.pki.keyPem);
    this.keyId = options.pki.keyId;
    for (const user of options.users ?? []) this.addUser(user);
    for (const project of options.projects ?? []) this.addProject(project);
  }

  /** Starts a stand-in on 127.0.0.1 with a free port. */
  static async start(options: GitlabStandinOptions): Promise<GitlabStandin> {
    const standin = new GitlabStandin(options);
    const server = createServer((req, res) => standin.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    standin.server = server;
    standin.port = (server.address() as AddressInfo).port;
    return standin;
  }

  /** e.g. `http://127.0.0.1:40123`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The token endpoint the registry's `auth.token.realm` names. */
  get realm(): string {
    return `${this.url}/jwt/auth`;
  }

  /** Number of /jwt/auth requests since start or the last `resetStats()`. */
  get authRequests(): number {
    return this.authLog.length;
  }

  /** The scope lists requested, one array per /jwt/auth request. */
  get scopeLog(): string[][] {
    return this.authLog.map((record) => record.scopes);
  }

  /** Every `/api/v4` request since start or the last `resetStats()`, in order. */
  get apiLog(): readonly ApiRequestRecord[] {
    return this.state.apiLog;
  }

  /**
   * The project ids or paths asked for at one endpoint, one element per request, e.g. to check
   * that each project's policy was read once: `apiProjects("project")`.
   */
  apiProjects(endpoint: ApiEndpoint): string[] {
    return this.state.apiLog.flatMap((record) => (record.endpoint === endpoint && record.project !== undefined ? [record.project] : []));
  }

  /** Adds or replaces a user (by username). */
  addUser(user: StandinUser): void {
    this.state.users.set(user.username, user);
    if (!this.state.userIds.has(user.username)) this.state.userIds.set(user.username, this.state.nextId++);
  }

  removeUser(username: string): void {
    this.state.users.delete(username);
  }

  /**
   * Adds or replaces a project (by path) and returns it as stored: with its numeric id, its root
   * namespace's id and its tag rules numbered.
   */
  addProject(project: StandinProject): StoredProject {
    const existing = this.state.projects.get(project.path);
    const id = project.id ?? existing?.id ?? this.state.nextId++;
    const root = project.path.split("/")[0]!;
    const rootNamespaceId = this.state.namespaceIds.get(root) ?? this.state.nextId++;
    this.state.namespaceIds.set(root, rootNamespaceId);
    const tagRules = (project.tagProtection ?? []).map((rule) => ({ ...rule, id: this.state.nextId++ }));
    const stored = { ...project, id, rootNamespaceId, tagRules, createdAt: existing?.createdAt ?? Date.now() };
    this.state.projects.set(project.path, stored);
    return stored;
  }

  /** The project as stored (ids, numbered tag rules), by full path. */
  getProject(path: string): StoredProject | undefined {
    return this.state.projects.get(path);
  }

  /** Removes a project: its repositories become orphans that no token reaches. */
  removeProject(path: string): void {
    this.state.projects.delete(path);
  }

  /**
   * GitLab's record of the container repository at `path` (as a push there creates it), added
   * if missing. Throws when no project owns the path.
   */
  addRepository(path: string): StandinRepository {
    const record = recordRepository(this.state.repositories, this.state.projects.values(), path, () => this.state.nextId++);
    if (!record) throw new Error(`no project owns repository ${path}`);
    return record;
  }

  /** The container repositories GitLab records now (a deleted one until its worker has run), by path. */
  repositoryRecords(): StandinRepository[] {
    return [...this.state.repositories.byId.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** How long a deleted repository stays listed (`delete_scheduled`) before its record goes. Default 50 ms. */
  set repositoryDeleteDelayMs(ms: number) {
    this.state.repositories.deleteDelayMs = ms;
  }

  /** Sets the project's container repository protection rules (replacing earlier ones). */
  protectRepositories(projectPath: string, rules: RepositoryProtectionRule[]): void {
    this.state.repositories.protection.set(projectPath, rules);
  }

  /** Forgets the request logs (/jwt/auth and /api/v4) and the last claims. */
  resetStats(): void {
    this.authLog.length = 0;
    this.state.apiLog.length = 0;
    this.lastClaims = undefined;
  }

  /**
   * The next `times` requests to `pathname` get `status` with an HTML page, as Rails, Puma or
   * nginx answer while GitLab restarts; then the stand-in answers normally again.
   */
  failNext(pathname: string, times: number, status = 500): void {
    const body = `<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but something went wrong (${status})</title>\n` +
      `  <style>body { color: #2e2e2e; }</style>\n</head>\n<body><h1>${status}</h1></body>\n</html>\n`;
    this.faults.set(pathname, { times, status, body });
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const url = new URL(req.url ?? "/", this.url);
      const fault = this.faults.get(url.pathname);
      if (fault && fault.times > 0) {
        fault.times--;
        this.faultLog.push(url.pathname);
        if (url.pathname === "/jwt/auth") this.authLog.push({ scopes: splitScopes(url.searchParams.getAll("scope")), status: fault.status });
        res.writeHead(fault.status, { "content-type": "text/html; charset=utf-8" }).end(fault.body);
        return;
      }
      if (url.pathname === "/jwt/auth" && req.method === "GET") return this.handleAuth(req, res, url);
      if (url.pathname.startsWith("/api/v4/")) return handleApi(req, res, this.state, this.url);
      res.writeHead(404).end();
    } catch (error) {
      // A malformed request (bad percent-encoding…) must not take the test process down.
      if (!res.headersSent) sendJson(res, 500, { message: String(error) });
    }
  }

  private handleAuth(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const scopes = splitScopes(url.searchParams.getAll("scope"));
    const outcome = authenticateBasic(this.state.users.values(), req.headers.authorization);
    const record: AuthRequestRecord = { scopes, status: 0 };
    this.authLog.push(record);
    // GitLab authenticates before it looks at the service, so bad credentials win over a bad service.
    if (!outcome.ok && outcome.status === 401) {
      record.status = sendJson(res, 401, { errors: [{ code: "UNAUTHORIZED", message: ACCESS_DENIED_MESSAGE }] });
      return;
    }
    if (url.searchParams.get("service") !== this.service) {
      record.status = 404;
      res.writeHead(404).end();
      return;
    }
    if (!this.registryEnabled) {
      record.status = sendJson(res, 404, refusal("UNAVAILABLE", "registry not enabled", 404));
      return;
    }
    if (!outcome.ok) {
      record.status = sendJson(res, 403, refusal("DENIED", "access forbidden", 403));
      return;
    }
    const { identity } = outcome;
    if (identity.user) record.username = identity.user.username;
    const access = accessFor(identity, this.state.projects.values(), scopes, this.thresholds, { metadata: this.accessMetadata });
    // GitLab records a repository when it grants push there (ContainerRepository.find_or_create_from_path).
    for (const entry of access) {
      if (entry.type === "repository" && entry.actions.some((action) => action === "push" || action === "*")) this.addRepository(entry.name);
    }
    record.status = sendJson(res, 200, { token: this.issue(identity.user?.username, access) });
  }

  private issue(subject: string | undefined, access: AccessEntry[]): string {
    const iat = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      iss: this.issuer,
      aud: this.service,
      ...(subject === undefined ? {} : { sub: subject }),
      iat,
      nbf: iat - 5,
      exp: iat + this.expirySeconds,
      jti: randomUUID(),
      access,
    };
    this.lastClaims = claims;
    const header = { alg: "RS256", typ: "JWT", kid: this.keyId };
    const input = `${base64url(header)}.${base64url(claims)}`;
    // RS256 is RSASSA-PKCS1-v1_5 with SHA-256, node's default padding for RSA keys.
    return `${input}.${sign("sha256", Buffer.from(input), this.key).toString("base64url")}`;
  }
}

/** Starts a GitLab stand-in; see {@link GitlabStandin}. */
export function startGitlabStandin(options: GitlabStandinOptions): Promise<GitlabStandin> {
  return GitlabStandin.start(options);
}

/** Decodes (without verifying) the claims of a registry token. */
export function decodeTokenClaims(token: string): TokenClaims {
  const payload = token.split(".")[1];
  if (payload === undefined) throw new Error("not a JWT: expected three dot-separated parts");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
}

function refusal(code: string, message: string, status: number): unknown {
  return { errors: [{ code, message }], http_status: status };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
