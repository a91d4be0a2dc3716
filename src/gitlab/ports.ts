/** What the cleanup needs from GitLab: registry tokens, and a little of the REST API. */
import type { RepositoryName } from "../core/repository-name.js";

/**
 * The actions a TokenProvider asks for in each `repository:<name>:<actions>` scope: the cleanup's
 * `pull,delete` (never push: GITLAB.md §1), restore's `pull,push`, `pull` for a restore dry run,
 * and `pull,push,delete` for deleting tags on a registry without tag delete (registry/tag-deleter.ts),
 * asked for by a second provider used only there: push on a protected repository path fails the
 * whole token request with 403.
 */
export type TokenActions = "pull,delete" | "pull,push" | "pull" | "pull,push,delete";

/** Issues registry tokens from GitLab's `/jwt/auth` (GITLAB.md §1). */
export interface TokenProvider {
  /**
   * Checks the credentials once with a token request. Throws AuthError on 401 (never retried:
   * GitLab bans an address after repeated failed logins).
   */
  verifyCredentials(): Promise<void>;
  /**
   * Fetches tokens for these repositories in batched requests (many scopes per request) and
   * returns, per repository, whether the token grants the provider's key actions: `delete` for the
   * cleanup, `push` for restore (`pull` for its dry run), both `push` and `delete` for the tag
   * deleter's fallback. Denied actions are dropped silently by GitLab, so this is read from the
   * JWT's `access` claim.
   */
  authorize(names: readonly RepositoryName[]): Promise<Map<RepositoryName, boolean>>;
  /**
   * A token valid for `repository:<name>:<actions>` (`pull,delete` unless configured otherwise),
   * from the cache while it has more than a safety margin left before `exp`. `refresh: true`
   * discards the cached one first (after a 401).
   */
  tokenFor(name: RepositoryName, options?: { refresh?: boolean }): Promise<string>;
  /** How many requests were sent to `/jwt/auth` (for the report and the benchmark). */
  readonly requestCount: number;
}

/** The user behind a personal access token. */
export interface GitLabUser {
  username: string;
  isAdmin: boolean;
}

/** The GitLab REST API, which accepts tokens only (not passwords). */
export interface GitLabApi {
  /** The token's user, or undefined when the secret is not an API token (e.g. a password). */
  currentUser(): Promise<GitLabUser | undefined>;
  /** True when a project with this full path exists (and is visible to the token). */
  projectExists(path: string): Promise<boolean>;
}
