/**
 * The little of GitLab's REST API the cleanup uses, through @gitbeaker/rest. The API takes
 * tokens only (`PRIVATE-TOKEN`), never a password (GITLAB.md §2, §10).
 */
import type { Agent as HttpAgent } from "node:http";
import { Projects, Users } from "@gitbeaker/rest";
import type { Dispatcher } from "undici";
import { AuthError, CleanupError, ExitCode } from "../core/errors.js";
import type { GitLabApi, GitLabUser } from "./ports.js";

export interface GitLabRestApiOptions {
  /** GitLab's external URL; the API is under `<gitlabUrl>/api/v4`. */
  gitlabUrl: URL;
  /** Personal access token (or the password, which the API answers with 401). */
  token: string;
  /** The run's dispatcher, so the API shares --insecure, --ca-cert and the proxy settings. */
  dispatcher?: Dispatcher;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
}

/** The GitLabApi over @gitbeaker/rest. */
export class GitLabRestApi implements GitLabApi {
  // Only the two resources used: the whole `Gitlab` bundle builds ~200 resources, each with its
  // own rate limiters, which cost ~2 MB of heap for the whole run.
  readonly #users: InstanceType<typeof Users>;
  readonly #projects: InstanceType<typeof Projects>;
  readonly #host: string;

  constructor(options: GitLabRestApiOptions) {
    this.#host = `${options.gitlabUrl.origin}${options.gitlabUrl.pathname}`.replace(/\/+$/, "");
    const settings = {
      host: this.#host,
      token: options.token,
      queryTimeout: options.timeoutMs ?? 30_000,
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
      const user = await this.#users.showCurrentUser();
      return { username: user.username, isAdmin: user.is_admin === true };
    } catch (error) {
      if (statusOf(error) === 401) return undefined;
      throw this.#wrap("reading the current user", error);
    }
  }

  /** Whether the project exists and the token can see it (404 means neither). */
  async projectExists(path: string): Promise<boolean> {
    try {
      await this.#projects.show(path);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.#wrap(`looking up project ${path}`, error);
    }
  }

  /**
   * Adds context. The gitbeaker error is deliberately not kept as `cause`: its `cause.request`
   * is the fetch Request, whose headers hold the PRIVATE-TOKEN.
   */
  #wrap(operation: string, error: unknown): CleanupError {
    const status = statusOf(error);
    const said = error instanceof Error ? error.message : String(error);
    const where = `${operation} at ${this.#host}/api/v4`;
    const network = networkCode(error);
    // GitLab's own messages often start with the status already ("404 Project Not Found").
    const detail = status === undefined ? (network ? `${said} (${network})` : said)
      : said.startsWith(String(status)) ? said : `${status} ${said}`;
    if (status === 401 || status === 403) {
      return new AuthError(
        `${where}: ${detail}: the token cannot use the REST API for this; ` +
          "use a personal access token with the `api` (or `read_api`) scope",
      );
    }
    return new CleanupError(`${where}: ${detail}`, ExitCode.deletionsFailed);
  }
}

/** The HTTP status of a GitbeakerRequestError (`cause.response.status`), if any. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { cause?: { response?: { status?: unknown } } } | null)?.cause?.response?.status;
  return typeof status === "number" ? status : undefined;
}

/** A network failure surfaces as fetch's `TypeError: fetch failed` with the socket error as cause. */
function networkCode(error: unknown): string | undefined {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === "string" ? code : undefined;
}
