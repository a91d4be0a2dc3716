/**
 * Registry tokens from GitLab's `/jwt/auth` (GITLAB.md §1): many repository scopes per request,
 * one cache entry per repository, renewal shortly before expiry, and a hard stop at the first
 * refused login so that GitLab never bans this machine's address.
 */
import { request, type Dispatcher } from "undici";
import { AuthError, UsageError } from "../core/errors.js";
import type { RepositoryName } from "../core/repository-name.js";
import { basicAuthorization, displayUrl, readBody } from "../registry/http.js";
import { RegistryError, errorFromNetwork, errorFromReply } from "../registry/registry-error.js";
import { withRetry, type RetryPolicy } from "../registry/retry.js";
import { classifyGitLabFailure } from "./gitlab-retry.js";
import type { TagProtection, TagProtectionSource, TokenActions, TokenProvider } from "./ports.js";
import { readAccess } from "./token-access.js";

export interface GitLabTokenProviderOptions {
  /** GitLab's external URL; the token endpoint is `<gitlabUrl>/jwt/auth`. */
  gitlabUrl: URL;
  username: string;
  /** Password or personal access token. Never appears in any message. */
  secret: string;
  dispatcher: Dispatcher;
  /**
   * The actions asked for in every repository scope. Default `pull,delete`, the cleanup's: never
   * `push` there (GITLAB.md §1). Restore asks for `pull,push`, and its dry run for `pull` only;
   * the tag deleter's fallback `pull,push,delete`, from a provider of its own.
   */
  actions?: TokenActions;
  /** Clock in ms since the epoch (tests inject one). Default Date.now. */
  now?: () => number;
  /** Renew a token this long before it expires, at most a third of its lifetime. Default 30 s. */
  renewMarginMs?: number;
  /** Upper bound of one request's query string; GitLab's nginx refuses request lines over 8 KB. Default 6000. */
  maxQueryBytes?: number;
  /**
   * Upper bound of one token's length, so that `Authorization: Bearer <token>` fits the 8 KB header
   * line GitLab's nginx accepts in front of the registry (`large_client_header_buffers`), and the
   * registry, which decodes the whole token on every request, is not slowed down. Each access
   * entry makes a token longer (GitLab adds project metadata to each), so how many repositories
   * share a token is learned from the tokens GitLab returns. Default 7168.
   */
  maxTokenBytes?: number;
  /**
   * At most this many repositories in one token, whatever fits: for a run that deletes, whose
   * tokens each carry thousands of requests (SCOPES_PER_DELETING_TOKEN). Default no bound.
   */
  maxScopesPerToken?: number;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

/** A decoded `/jwt/auth` answer, shared by every repository it was requested for. */
interface IssuedToken {
  token: string;
  /** Local clock time (ms) from which the token is renewed instead of reused. */
  renewAt: number;
  /** repository name -> actions GitLab granted (denied actions are silently left out). */
  actions: Map<string, readonly string[]>;
  /** repository name -> the tag patterns of its entry's `meta`, where it had any. */
  protection: Map<string, TagProtection>;
  /** The repositories it was requested for: they come due together, so they are renewed together. */
  names: readonly RepositoryName[];
  /** It grants `registry:catalog:*` (administrators only). */
  catalog: boolean;
}

/** Someone waiting for a token for one repository. */
interface Waiter {
  name: RepositoryName;
  resolve: (token: IssuedToken) => void;
  reject: (error: unknown) => void;
}

const SERVICE_QUERY = "service=container_registry";
/** The one registry scope GitLab grants, and only to instance administrators (GITLAB.md §1). */
const CATALOG_SCOPE = "registry:catalog:*";
/**
 * Bytes one repository's access entry is assumed to add to a token until a token shows the real
 * figure: GitLab's entries (name, actions, project path and ids) are 250 to 350 bytes in base64.
 */
const FIRST_GUESS_BYTES_PER_SCOPE = 400;
const DEFAULT_MAX_TOKEN_BYTES = 7168;
/**
 * Repositories per token for a run that deletes. The registry decodes the whole token on every
 * request, so every DELETE pays for every entry. Measured on the benchmark's 48,481 deletions
 * (`bench/ab-delete.ts`, registry CPU per DELETE, throughput, /jwt/auth requests for 935
 * repositories): 55 entries a token (7 KB, no project metadata) 1.33-1.35 ms, 952-958/s, 19;
 * 20 entries 1.20 ms, 1,054/s, 48; ~17 entries 1.18-1.20 ms, 1,049-1,064/s, 54. With GitLab's
 * metadata in each entry (as a real instance gives it): 7 KB tokens (~25 entries) 1.28 ms, 987/s,
 * 38; ~8 entries 1.19 ms, 1,048/s, 116. Twenty is where the gain stops, and it is the budget of
 * one /jwt/auth request per 20 repositories (issue 15). A dry run asks for no bound: it sends one
 * or two requests per repository.
 */
export const SCOPES_PER_DELETING_TOKEN = 20;
/** A token response is a few KB; anything far bigger is not GitLab talking. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The TokenProvider for GitLab. Requests for several repositories made in the same turn of the
 * event loop (e.g. `authorize` or a burst of `tokenFor`) share one `/jwt/auth` request per
 * ~6 KB of scopes, and concurrent requests for one repository share one fetch.
 */
export class GitLabTokenProvider implements TokenProvider, TagProtectionSource {
  readonly #options: GitLabTokenProviderOptions;
  readonly #endpoint: URL;
  readonly #authorization: string;
  readonly #actions: TokenActions;
  readonly #now: () => number;
  readonly #cache = new Map<RepositoryName, IssuedToken>();
  readonly #inflight = new Map<RepositoryName, Promise<IssuedToken>>();
  #queue: Waiter[] = [];
  /** Waiters asked for ahead of need (authorizeAhead): sent a full request at a time. */
  #ahead: Waiter[] = [];
  #flushScheduled = false;
  #flushing = false;
  #requestCount = 0;
  /** Length of a token without access entries (learned from verifyCredentials), and what each entry adds. */
  #baseTokenBytes = 0;
  #bytesPerScope = FIRST_GUESS_BYTES_PER_SCOPE;
  #learnedScopeBytes = false;
  /** Once GitLab refused the credentials, no further login is attempted in this run. */
  #refusal: AuthError | undefined;

  constructor(options: GitLabTokenProviderOptions) {
    this.#options = options;
    const href = options.gitlabUrl.href;
    // Relative to GitLab's URL, so a relative URL root (https://host/gitlab) is kept.
    this.#endpoint = new URL("jwt/auth", href.endsWith("/") ? href : `${href}/`);
    this.#authorization = basicAuthorization(options.username, options.secret);
    this.#now = options.now ?? Date.now;
    this.#actions = options.actions ?? "pull,delete";
  }

  /** How many HTTP requests were sent to `/jwt/auth`, retries included. */
  get requestCount(): number {
    return this.#requestCount;
  }

  /** One token request without scope: proves the credentials before anything else is done. */
  async verifyCredentials(): Promise<void> {
    await this.#fetch([]);
  }

  /**
   * Whether GitLab treats the user as an instance administrator, from one token request for
   * `registry:catalog:*`: GitLab grants that scope when `current_user.admin?` and to nobody else
   * (Auth::ContainerRegistryAuthenticationService#process_registry_access). Unlike the REST API's
   * `is_admin`, it works with a password.
   */
  async isAdministrator(): Promise<boolean> {
    if (this.#refusal) throw this.#refusal;
    const url = new URL(this.#endpoint);
    url.search = `${SERVICE_QUERY}&scope=${CATALOG_SCOPE}`;
    const sentAt = this.#now();
    const body = await withRetry(() => this.#send(url), this.#retryPolicy());
    return this.#decode(body, sentAt).catalog;
  }

  /**
   * Fetches (or reuses) tokens for all names and reads, per name, whether the key actions were
   * granted: `delete` (the default), `push` (restore), `pull`, or `push` and `delete` both.
   */
  async authorize(names: readonly RepositoryName[]): Promise<Map<RepositoryName, boolean>> {
    // What waits ahead goes out only with a name not cached (#tokenEntry): a dry run checks each
    // repository as it comes, and releasing a part-filled request every time would add requests.
    const unique = [...new Set(names)];
    const issued = await Promise.all(unique.map((name) => this.#tokenEntry(name)));
    const actions = keyActions(this.#actions);
    return new Map(unique.map((name, index) => [name, grants(issued[index]!, name, actions)]));
  }

  /**
   * The tag patterns of the latest token received for `name` (read with its `access` claim), so
   * that protected and immutable tags can be kept, and reported, before the registry refuses.
   */
  tagProtection(name: RepositoryName): TagProtection | undefined {
    return this.#cache.get(name)?.protection.get(name);
  }

  /** A token for `repository:<name>:<actions>`; `refresh` drops the cached one first (after a 401). */
  async tokenFor(name: RepositoryName, options?: { refresh?: boolean }): Promise<string> {
    if (options?.refresh) this.#cache.delete(name);
    return (await this.#tokenEntry(name)).token;
  }

  async authorizeAhead(name: RepositoryName): Promise<boolean> {
    const cached = this.#cache.get(name);
    const inflight = this.#inflight.get(name);
    const entry = cached && this.#now() < cached.renewAt ? cached : inflight ? await inflight : await this.#enqueueAhead(name);
    return grants(entry, name, keyActions(this.#actions));
  }

  #enqueueAhead(name: RepositoryName): Promise<IssuedToken> {
    const promise = new Promise<IssuedToken>((resolve, reject) => this.#ahead.push({ name, resolve, reject }));
    this.#track(name, promise);
    // Only whole requests go out (see #flush); the remainder with the next authorize or tokenFor.
    this.#scheduleFlush();
    return promise;
  }

  /** Everything asked ahead goes out now, with what is asked for next. */
  #releaseAhead(): void {
    if (this.#ahead.length === 0) return;
    this.#queue.push(...this.#ahead.splice(0));
    this.#scheduleFlush();
  }

  #tokenEntry(name: RepositoryName): Promise<IssuedToken> {
    const cached = this.#cache.get(name);
    if (cached && this.#now() < cached.renewAt) return Promise.resolve(cached);
    // A token needed now: what waits ahead (perhaps this very name) goes out with it.
    this.#releaseAhead();
    // Anything in flight was requested after the cached token was issued, so it is fresher.
    const inflight = this.#inflight.get(name);
    if (inflight) return inflight;
    // Renewing one repository at a time would cost a request per repository on every long run.
    if (cached) {
      for (const other of cached.names) {
        if (other !== name && this.#cache.get(other) === cached && !this.#inflight.has(other)) void this.#enqueue(other).catch(() => {});
      }
    }
    return this.#enqueue(name);
  }

  #enqueue(name: RepositoryName): Promise<IssuedToken> {
    const promise = new Promise<IssuedToken>((resolve, reject) => this.#queue.push({ name, resolve, reject }));
    this.#track(name, promise);
    this.#scheduleFlush();
    return promise;
  }

  #track(name: RepositoryName, promise: Promise<IssuedToken>): void {
    this.#inflight.set(name, promise);
    const forget = () => {
      if (this.#inflight.get(name) === promise) this.#inflight.delete(name);
    };
    promise.then(forget, forget);
  }

  /** At the end of this event-loop turn, so that a burst of requests shares one batch. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /**
   * Sends what waits, one batch at a time: GitLab answers fast, each token tells how big the
   * next batch may be, and a refusal must stop the remaining batches. Names asked ahead go only
   * in whole batches, so that asking ahead never adds a request.
   */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const from = this.#queue.length > 0 ? this.#queue : this.#batchSize(this.#ahead) < this.#ahead.length ? this.#ahead : undefined;
        if (!from) return;
        const batch = from.splice(0, this.#batchSize(from));
        try {
          const issued = await this.#fetch(batch.map((waiter) => waiter.name));
          for (const waiter of batch) waiter.resolve(issued);
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** How many of the first waiters fit one request's query string and one token's length. */
  #batchSize(waiting: Waiter[]): number {
    const maxQuery = this.#options.maxQueryBytes ?? 6000;
    const maxToken = this.#options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    const fit = Math.max(1, Math.floor((maxToken - this.#baseTokenBytes) / this.#bytesPerScope));
    const scopes = Math.min(fit, this.#options.maxScopesPerToken ?? fit);
    let length = SERVICE_QUERY.length;
    let count = 0;
    for (const waiter of waiting) {
      length += "&scope=".length + scopeFor(waiter.name, this.#actions).length;
      if (count === scopes || (count > 0 && length > maxQuery)) break;
      count++;
    }
    return count;
  }

  /**
   * Learns the token's length without entries (the first, scopeless token) and the most any
   * entry was seen to add on average; entries GitLab left out (denied) are not counted.
   */
  #learn(token: string, entries: number): void {
    if (entries === 0) {
      this.#baseTokenBytes ||= token.length;
      return;
    }
    const perScope = Math.ceil((token.length - this.#baseTokenBytes) / entries);
    this.#bytesPerScope = this.#learnedScopeBytes ? Math.max(this.#bytesPerScope, perScope) : perScope;
    this.#learnedScopeBytes = true;
  }

  async #fetch(names: readonly RepositoryName[]): Promise<IssuedToken> {
    if (this.#refusal) throw this.#refusal;
    const url = new URL(this.#endpoint);
    // Names are validated (lowercase letters, digits, . _ - /), all legal in a query: sending
    // them unescaped fits about 40% more scopes in a request than percent-encoding would.
    url.search = [SERVICE_QUERY, ...names.map((name) => `scope=${scopeFor(name, this.#actions)}`)].join("&");
    const sentAt = this.#now();
    const body = await withRetry(() => this.#send(url), this.#retryPolicy());
    const issued = { ...this.#decode(body, sentAt), names };
    this.#learn(issued.token, issued.actions.size);
    for (const name of names) this.#cache.set(name, issued);
    return issued;
  }

  /** GitLab's classification (500 too: Puma restarting) unless a test passes its own. */
  #retryPolicy(): RetryPolicy {
    return { classify: classifyGitLabFailure, ...this.#options.retry, ...(this.#options.signal ? { signal: this.#options.signal } : {}) };
  }

  async #send(url: URL): Promise<Buffer> {
    this.#requestCount++;
    const { signal } = this.#options;
    let status: number;
    let body: Buffer;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await request(url, {
        dispatcher: this.#options.dispatcher,
        method: "GET",
        headers: { authorization: this.#authorization, accept: "application/json" },
        ...(signal ? { signal } : {}),
      });
      status = response.statusCode;
      retryAfter = response.headers["retry-after"];
      body = await readBody(response.body, MAX_RESPONSE_BYTES);
    } catch (error) {
      if (signal?.aborted) throw error;
      throw errorFromNetwork(this.#operation(), error);
    }
    if (status === 200) return body;
    throw this.#refused(status, body, typeof retryAfter === "string" ? retryAfter : undefined);
  }

  #refused(status: number, body: Buffer, retryAfter: string | undefined): Error {
    const gitlab = displayUrl(this.#options.gitlabUrl);
    const user = this.#options.username;
    if (status === 401) {
      this.#refusal = new AuthError(
        `GitLab refused the credentials for user ${user} at ${gitlab}: check the username and password. ` +
          "Accounts with two-factor authentication need a personal access token with the `api` scope " +
          "instead of the password. Not retried, because GitLab blocks an address after repeated failed logins.",
      );
      return this.#refusal;
    }
    if (status === 403) {
      // GitLab also refuses a whole request with 403 when it asks for push on a protected repository path.
      const pushing = this.#actions.includes("push")
        ? " Asking for push, this also happens when a repository is protected against pushes in GitLab " +
          "(Settings > Packages and registries > Protected container repositories)."
        : "";
      this.#refusal = new AuthError(
        `GitLab at ${gitlab} refused container registry access to user ${user} (403): this credential has no ` +
          "registry ability. Use the password, or a personal access token with the `api` scope, of a user " +
          "with the Maintainer role (deploy tokens and read_registry/write_registry tokens cannot delete)." + pushing,
      );
      return this.#refusal;
    }
    if (status === 404) {
      return new UsageError(
        `${displayUrl(this.#endpoint)} answered 404: the container registry is not enabled in this GitLab, ` +
          "or the GitLab URL is wrong or not a GitLab server. Pass GitLab's external URL (not the registry's).",
      );
    }
    return errorFromReply(this.#operation(), { status, body, ...(retryAfter ? { retryAfter } : {}) });
  }

  /**
   * Reads `exp` and `access` from the JWT payload; the signature is the registry's business. The
   * lifetime (exp - iat, both GitLab's clock) is counted from when the request was sent on the
   * local clock, so a skew between the two machines does not matter.
   */
  #decode(body: Buffer, sentAt: number): Omit<IssuedToken, "names"> {
    const token = parseJsonObject(body)?.token;
    const parts = typeof token === "string" ? token.split(".") : [];
    const payload = parts.length === 3 ? parseJsonObject(Buffer.from(parts[1]!, "base64url")) : undefined;
    if (typeof token !== "string" || typeof payload?.exp !== "number") {
      const message = "GitLab answered without a JWT with an `exp` claim; is this GitLab's /jwt/auth?";
      throw new RegistryError({ operation: this.#operation(), message });
    }
    const issuedAt = typeof payload.iat === "number" ? payload.iat * 1000 : sentAt;
    const lifetime = payload.exp * 1000 - issuedAt;
    // A few-second token is still used: the margin is at most a third of the lifetime.
    const margin = Math.min(this.#options.renewMarginMs ?? 30_000, lifetime / 3);
    return { token, renewAt: sentAt + lifetime - margin, ...readAccess(payload.access) };
  }

  #operation(): string {
    return `requesting a registry token from ${displayUrl(this.#endpoint)}`;
  }
}

/** The scope asked for: never `*`, and `push` only for restore and the tag deleter's fallback (GITLAB.md §1). */
function scopeFor(name: RepositoryName, actions: TokenActions): string {
  return `repository:${name}:${actions}`;
}

/** The actions `authorize` reports on: those the provider's callers cannot work without. */
function keyActions(actions: TokenActions): readonly string[] {
  return actions === "pull" ? ["pull"] : actions.slice("pull,".length).split(",");
}

function grants(issued: IssuedToken, name: RepositoryName, wanted: readonly string[]): boolean {
  const actions = issued.actions.get(name) ?? [];
  return actions.includes("*") || wanted.every((action) => actions.includes(action));
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
    return isObject ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
