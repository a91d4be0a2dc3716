/**
 * What the cleanup needs from GitLab: registry tokens (and what they say about protected tags),
 * and a little of the REST API.
 */
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
  /**
   * Whether the token for `name` will grant the key actions, asked ahead of need: names wait
   * until a full request's worth of them does (or until `authorize` or `tokenFor` asks for
   * anything), so that asking ahead never costs more `/jwt/auth` requests than asking for all of
   * them at once. Optional.
   */
  authorizeAhead?(name: RepositoryName): Promise<boolean>;
  /**
   * Whether GitLab treats the credentials' user as an instance administrator: it grants the
   * `registry:catalog:*` scope to administrators only, password or token alike (GITLAB.md §1).
   * One token request. Absent in providers that cannot tell (the answer is then unknown).
   */
  isAdministrator?(): Promise<boolean>;
  /** How many requests were sent to `/jwt/auth` (for the report and the benchmark). */
  readonly requestCount: number;
}

/**
 * What GitLab put into a repository's registry token about its tags (GITLAB.md §12): the
 * `meta.tag_deny_access_patterns` for this user and, EE, `meta.tag_immutable_patterns`. The
 * patterns are RE2 regular expressions on tag names, as GitLab validates and the registry applies
 * them. The registry refuses every delete by digest in a repository where a pattern applies.
 */
export interface TagProtection {
  /** Tags this user may not delete: rules whose minimum role for delete is above the user's. */
  denyDelete: readonly string[];
  /** Tags this user may not push (only asked for with push, i.e. by restore). */
  denyPush: readonly string[];
  /** Immutable tags (EE): nobody, admins included, may delete or overwrite them. */
  immutable: readonly string[];
}

/** The tag protection read from the registry tokens a TokenProvider received. */
export interface TagProtectionSource {
  /**
   * From the latest token received for `name`: undefined when none was received yet, or when it
   * carried no tag patterns (the project has no tag rules, or GitLab predates them). Empty lists
   * when rules exist but none applies (admins, Owners).
   */
  tagProtection(name: RepositoryName): TagProtection | undefined;
}

/** The user behind a personal access token. */
export interface GitLabUser {
  username: string;
  isAdmin: boolean;
}

/**
 * A project's cleanup policy for container images (`container_expiration_policy`, GITLAB.md
 * §12), in the tool's words. GitLab applies it only when `enabled`.
 */
export interface ProjectExpirationPolicy {
  enabled: boolean;
  /** Keep the n most recently dated tags of each repository; undefined: no such rule. */
  keepN: number | undefined;
  /** The age rule as GitLab has it (`7d`, `14d`, `30d`, `60d`, `90d`); undefined: none. */
  olderThan: string | undefined;
  /**
   * `olderThan` in ms. Undefined while `olderThan` is set means a value this tool cannot read:
   * do not apply the policy (dropping its age rule would delete more than GitLab would).
   */
  olderThanMs: number | undefined;
  /**
   * Whole-name pattern (RE2, anchored at both ends) of the tags the policy may delete. GitLab's
   * null or empty pattern becomes "", which, as in GitLab (`\A\z`), matches no tag.
   */
  nameRegexDelete: string;
  /** Whole-name pattern of the tags always kept; undefined: none (GitLab's null or empty). */
  nameRegexKeep: string | undefined;
}

/** A protected tag rule of a project, as the REST API lists it (GitLab 18.7+). */
export interface TagProtectionRule {
  /** RE2 pattern on tag names (GitLab validates it as a regular expression). */
  pattern: string;
  /** The minimum role that may delete a matching tag: `maintainer`, `owner` or `admin`. */
  minimumAccessLevelForDelete: string;
  /** The minimum role that may push a matching tag. */
  minimumAccessLevelForPush: string;
}

/** The GitLab REST API, which accepts tokens only (not passwords). */
export interface GitLabApi {
  /** The token's user, or undefined when the secret is not an API token (e.g. a password). */
  currentUser(): Promise<GitLabUser | undefined>;
  /** True when a project with this full path exists (and is visible to the token). */
  projectExists(path: string): Promise<boolean>;
  /**
   * The project's cleanup policy; undefined when the token cannot see the project (404) or the
   * project has no policy record (projects from before GitLab 12.8 show none). Throws UsageError
   * when the secret is not an API token (a password), AuthError when the token lacks a scope.
   */
  expirationPolicy(projectPath: string): Promise<ProjectExpirationPolicy | undefined>;
  /**
   * The project's protected tag rules (immutable rules are not listed: only registry tokens
   * carry them). Undefined when the token cannot see the project (404), when the user is below
   * Maintainer there (403: such a user cannot delete in its registry either), or when GitLab
   * predates the endpoint (404 too). Throws as expirationPolicy does.
   */
  tagProtectionRules(projectPath: string): Promise<TagProtectionRule[] | undefined>;
}

/** GitLab's record of a container repository (`GET /projects/:id/registry/repositories`, GITLAB.md §13). */
export interface RegistryRepositoryRecord {
  id: number;
  /** The repository's full path, e.g. `group/project/old` (the project's path for its root repository). */
  path: string;
  /** `delete_scheduled`, `delete_ongoing` or `delete_failed` while or after GitLab deletes it; null otherwise. */
  status: string | null;
}

/** Reading and deleting GitLab's records of container repositories (REST, a token with `api`). */
export interface RegistryRepositories {
  /**
   * Every container repository GitLab records for the project (all pages). Undefined when the
   * token cannot see the project (404: no such project, or not a member) or may not read its
   * registry (403: below Reporter). Throws UsageError for a password, AuthError for a token
   * without `api` or `read_api`.
   */
  registryRepositories(projectPath: string): Promise<RegistryRepositoryRecord[] | undefined>;
  /**
   * `DELETE /projects/:id/registry/repositories/:repository_id`: GitLab answers 202 and deletes it
   * later, in a background job that deletes every tag first. "gone" on 404 (removed meanwhile).
   * Throws CleanupError saying why on a refusal (403: the role, a protection rule, the token's scope).
   */
  deleteRegistryRepository(projectPath: string, id: number): Promise<"accepted" | "gone">;
}
