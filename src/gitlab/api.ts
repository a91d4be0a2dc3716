/**
 * The little of GitLab's REST API the cleanup uses, through @gitbeaker/rest. The API takes
 * tokens only (`PRIVATE-TOKEN`), never a password (GITLAB.md §2, §10).
 */
import type { Agent as HttpAgent } from "node:http";
import { Projects, Users } from "@gitbeaker/rest";
import type { Dispatcher } from "undici";
import { AuthError, CleanupError, ExitCode, UsageError } from "../core/errors.js";
import { withRetry, type RetryPolicy } from "../registry/retry.js";
import { readExpirationPolicy, readRegistryRepositories, readTagProtectionRules } from "./api-answers.js";
import { classifyGitLabFailure } from "./gitlab-retry.js";
import type {
  GitLabApi, GitLabUser, ProjectExpirationPolicy, RegistryRepositories, RegistryRepositoryRecord, TagProtectionRule,
} from "./ports.js";

export interface GitLabRestApiOptions {
  /** GitLab's external URL; the API is under `<gitlabUrl>/api/v4`. */
  gitlabUrl: URL;
  /** Personal access token (or the password, which the API answers with 401). */
  token: string;
  /** The run's dispatcher, so the API shares --insecure, --ca-cert and the proxy settings. */
  dispatcher?: Dispatcher;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** How GETs are repeated on 500, 503, 504 and network errors (gitbeaker itself repeats 429 and 502). */
  retry?: RetryPolicy;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** What every refusal of the secret tells the user to do. */
const NEEDS_TOKEN = "use a personal access token with the `api` scope (it also gets the registry tokens that delete)";

/** Repositories asked for per page (GitLab's maximum), and pages at most (10,000 repositories in one project). */
const PER_PAGE = 100;
const MAX_PAGES = 100;

/** The GitLabApi over @gitbeaker/rest. */
export class GitLabRestApi implements GitLabApi, RegistryRepositories {
  // Only the two resources used: the whole `Gitlab` bundle builds ~200 resources, each with its
  // own rate limiters, which cost ~2 MB of heap for the whole run. Endpoints gitbeaker lacks
  // (protected tag rules) and those used by one flag only (container repositories) go through
  // the Projects resource's requester, so they share its token, dispatcher and error handling.
  readonly #users: InstanceType<typeof Users>;
  readonly #projects: InstanceType<typeof Projects>;
  readonly #host: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;

  constructor(options: GitLabRestApiOptions) {
    this.#host = `${options.gitlabUrl.origin}${options.gitlabUrl.pathname}`.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#retry = { classify: classifyGitLabFailure, ...options.retry };
    const settings = {
      host: this.#host,
      token: options.token,
      queryTimeout: this.#timeoutMs,
      // gitbeaker types `agent` as node:http's Agent but hands it to the global fetch as
      // `dispatcher`, which is what makes the TLS and proxy options apply to the API too.
      ...(options.dispatcher ? { agent: options.dispatcher as unknown as HttpAgent } : {}),
    };
    this.#users = new Users(settings);
    this.#projects = new Projects(settings);
  }

  /** The token's user; undefined on 401, which is what the API answers to a password. */
  async currentUser(): Promise<GitLabUser | undefined> {
    try {
      const user = await this.#get(() => this.#users.showCurrentUser());
      return { username: user.username, isAdmin: user.is_admin === true };
    } catch (error) {
      if (statusOf(error) === 401) return undefined;
      throw this.#wrap("reading the current user", error);
    }
  }

  /** Whether the project exists and the token can see it (404 means neither). */
  async projectExists(path: string): Promise<boolean> {
    try {
      await this.#get(() => this.#projects.show(path));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.#wrap(`looking up project ${path}`, error);
    }
  }

  /** `GET /projects/:id`'s `container_expiration_policy`; undefined on 404 or when it has none. */
  async expirationPolicy(projectPath: string): Promise<ProjectExpirationPolicy | undefined> {
    const operation = `reading the cleanup policy of project ${projectPath}`;
    const project = await this.#read(operation, () => this.#projects.show(projectPath));
    return project === undefined ? undefined : readExpirationPolicy(project, this.#unexpected(operation));
  }

  /**
   * `GET /projects/:id/registry/protection/tag/rules` (GitLab 18.7+; gitbeaker has no call for
   * it). The list is not paginated: GitLab allows 5 rules per project.
   */
  async tagProtectionRules(projectPath: string): Promise<TagProtectionRule[] | undefined> {
    const operation = `reading the protected tag rules of project ${projectPath}`;
    const endpoint = `projects/${encodeURIComponent(projectPath)}/registry/protection/tag/rules`;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const response = await this.#read(operation, () => this.#projects.requester.get(endpoint, { signal }), { forbiddenIsAbsent: true });
    return response === undefined ? undefined : readTagProtectionRules(response.body, this.#unexpected(operation));
  }

  /** `GET /projects/:id/registry/repositories`, page by page (`x-next-page`). */
  async registryRepositories(projectPath: string): Promise<RegistryRepositoryRecord[] | undefined> {
    const operation = `listing the container repositories of project ${projectPath}`;
    const endpoint = `projects/${encodeURIComponent(projectPath)}/registry/repositories`;
    const records: RegistryRepositoryRecord[] = [];
    for (let page = 1, pages = 0; pages < MAX_PAGES; pages++) {
      const searchParams = { per_page: PER_PAGE, page };
      const response = await this.#read(operation, () =>
        this.#projects.requester.get(endpoint, { searchParams, signal: AbortSignal.timeout(this.#timeoutMs) }), { forbiddenIsAbsent: true });
      if (response === undefined) return pages === 0 ? undefined : records;
      records.push(...readRegistryRepositories(response.body, this.#unexpected(operation)));
      const next = Number(response.headers["x-next-page"]);
      if (!Number.isSafeInteger(next) || next <= page) return records;
      page = next;
    }
    return records;
  }

  /** `DELETE /projects/:id/registry/repositories/:repository_id` (202: GitLab deletes it later). */
  async deleteRegistryRepository(projectPath: string, id: number): Promise<"accepted" | "gone"> {
    const operation = `deleting container repository ${id} of project ${projectPath}`;
    const endpoint = `projects/${encodeURIComponent(projectPath)}/registry/repositories/${id}`;
    try {
      await this.#projects.requester.delete(endpoint, { signal: AbortSignal.timeout(this.#timeoutMs) });
      return "accepted";
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return "gone";
      if (status !== 401 && status !== 403) throw this.#wrap(operation, error);
      throw new CleanupError(`${operation} at ${this.#host}/api/v4: ${refusalOf(status, summary(error), projectPath)}`, ExitCode.deletionsFailed);
    }
  }

  /**
   * One read: 404 (and, where the caller says so, a 403 for a role too low) is undefined; a
   * refused secret throws what to do about it; anything else throws with the status in one line.
   */
  async #read<T>(operation: string, request: () => Promise<T>, options: { forbiddenIsAbsent?: boolean } = {}): Promise<T | undefined> {
    try {
      return await this.#get(request);
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return undefined;
      const where = `${operation} at ${this.#host}/api/v4`;
      if (status === 401) {
        throw new UsageError(
          `${where}: 401 Unauthorized: GitLab's REST API takes personal access tokens only, and this secret is ` +
            `not one (a password?): ${NEEDS_TOKEN}`,
        );
      }
      const scope = status === 403 && summary(error) === "insufficient_scope";
      if (scope) throw new AuthError(`${where}: 403 insufficient_scope: the token has neither \`api\` nor \`read_api\`: ${NEEDS_TOKEN}`);
      if (status === 403 && options.forbiddenIsAbsent) return undefined;
      throw this.#wrap(operation, error);
    }
  }

  /** A GET, repeated while GitLab answers 500 (Puma restarting) or is unreachable for a moment. */
  #get<T>(request: () => Promise<T>): Promise<T> {
    return withRetry(request, this.#retry);
  }

  /** An answer that is not GitLab's shape (a proxy's page, another server): say so, briefly. */
  #unexpected(operation: string): (what: string) => CleanupError {
    return (what) =>
      new CleanupError(`${operation} at ${this.#host}/api/v4: the answer ${what}; is this GitLab's API?`, ExitCode.deletionsFailed);
  }

  /**
   * Adds context. The gitbeaker error is deliberately not kept as `cause`: its `cause.request`
   * is the fetch Request, whose headers hold the PRIVATE-TOKEN.
   */
  #wrap(operation: string, error: unknown): CleanupError {
    const status = statusOf(error);
    const said = summary(error);
    const where = `${operation} at ${this.#host}/api/v4`;
    const network = networkCode(error);
    // GitLab's own messages often start with the status already ("404 Project Not Found").
    const detail = status === undefined ? (network ? `${said} (${network})` : said)
      : said.startsWith(String(status)) ? said : `${status} ${said}`.trimEnd();
    if (status === 401 || status === 403) {
      return new AuthError(
        `${where}: ${detail}: the token cannot use the REST API for this; ` +
          "use a personal access token with the `api` (or `read_api`) scope",
      );
    }
    return new CleanupError(`${where}: ${detail}`, ExitCode.deletionsFailed);
  }
}

/** Why GitLab refused to delete a repository, and what to do (GITLAB.md §13). */
function refusalOf(status: number, said: string, projectPath: string): string {
  if (status === 401) return `401 Unauthorized: the REST API takes personal access tokens only: ${NEEDS_TOKEN}`;
  if (said === "insufficient_scope") return "403 insufficient_scope: deleting a repository needs a token with the `api` scope (`read_api` only reads)";
  if (/protected/i.test(said)) {
    return `${said}: a container repository protection rule of project ${projectPath} forbids your role to delete it ` +
      "(an administrator, or a role the rule allows, may)";
  }
  return `${said.startsWith("403") ? said : `403 ${said}`.trimEnd()}: deleting a repository needs the Maintainer role or ` +
    `higher in project ${projectPath} (administrators: everywhere)`;
}

/** The HTTP status of a GitbeakerRequestError (`cause.response.status`), if any. */
function statusOf(error: unknown): number | undefined {
  const status = responseOf(error)?.status;
  return typeof status === "number" ? status : undefined;
}

function responseOf(error: unknown): { status?: unknown; statusText?: unknown } | undefined {
  return (error as { cause?: { response?: { status?: unknown; statusText?: unknown } } } | null)?.cause?.response;
}

/** A network failure surfaces as fetch's `TypeError: fetch failed` with the socket error as cause. */
function networkCode(error: unknown): string | undefined {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === "string" ? code : undefined;
}

const MAX_SUMMARY = 200;

/**
 * What the server said, in one short line. gitbeaker's message is a JSON answer's `error` or
 * `message`, but the whole body otherwise: an HTML error page (nginx's 502, Rails' 500) is
 * replaced by the status text and the page's title.
 */
function summary(error: unknown): string {
  const said = error instanceof Error ? error.message : String(error);
  if (/^\s*</.test(said)) {
    const statusText = responseOf(error)?.statusText;
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(said)?.[1]?.replace(/\s+/g, " ").trim();
    const parts = [typeof statusText === "string" ? statusText : "", title ? `(an HTML page: "${title}")` : "(an HTML page)"];
    return parts.filter((part) => part !== "").join(" ");
  }
  const line = said.split(/\r?\n/).find((text) => text.trim() !== "")?.trim() ?? "";
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY)}…` : line;
}
