/**
 * GitLab's REST answers about container tags, read into the tool's words: a project's cleanup
 * policy (`container_expiration_policy`) and its protected tag rules (GITLAB.md §12). Anything
 * that would make a policy delete more than GitLab would, if misread, is refused instead.
 */
import type { CleanupError } from "../core/errors.js";
import type { ProjectExpirationPolicy, RegistryRepositoryRecord, TagProtectionRule } from "./ports.js";

/** Builds the error for an answer that is not GitLab's shape, from what was wrong with it. */
export type Unexpected = (what: string) => CleanupError;

const DAY_MS = 86_400_000;

/**
 * The policy in a `GET /projects/:id` answer; undefined when the project has none (GitLab
 * leaves the field out for projects without a policy record).
 */
export function readExpirationPolicy(project: unknown, unexpected: Unexpected): ProjectExpirationPolicy | undefined {
  if (!isObject(project) || typeof project.id !== "number") throw unexpected("is not a project");
  const policy = project.container_expiration_policy;
  if (policy === undefined || policy === null) return undefined;
  if (!isObject(policy)) throw unexpected("has a container_expiration_policy that is not an object");
  const olderThan = optionalString(policy.older_than, "older_than", unexpected);
  return {
    enabled: policy.enabled === true,
    keepN: keepN(policy.keep_n, unexpected),
    olderThan,
    olderThanMs: olderThan === undefined ? undefined : durationMs(olderThan),
    // GitLab matches `\A#{name_regex_delete || name_regex}\z`: with neither, no tag matches.
    nameRegexDelete: optionalString(policy.name_regex_delete ?? policy.name_regex, "name_regex_delete", unexpected) ?? "",
    nameRegexKeep: optionalString(policy.name_regex_keep, "name_regex_keep", unexpected) || undefined,
  };
}

/** The rules of a `GET /projects/:id/registry/protection/tag/rules` answer. */
export function readTagProtectionRules(body: unknown, unexpected: Unexpected): TagProtectionRule[] {
  if (!Array.isArray(body)) throw unexpected("is not a list of rules");
  return body.map((rule: unknown) => {
    if (!isObject(rule) || typeof rule.tag_name_pattern !== "string") throw unexpected("lists a rule without tag_name_pattern");
    return {
      pattern: rule.tag_name_pattern,
      minimumAccessLevelForDelete: accessLevel(rule.minimum_access_level_for_delete),
      minimumAccessLevelForPush: accessLevel(rule.minimum_access_level_for_push),
    };
  });
}

/** The repositories of one page of `GET /projects/:id/registry/repositories` (GITLAB.md §13). */
export function readRegistryRepositories(body: unknown, unexpected: Unexpected): RegistryRepositoryRecord[] {
  if (!Array.isArray(body)) throw unexpected("is not a list of container repositories");
  return body.map((repository: unknown) => {
    if (!isObject(repository) || typeof repository.id !== "number" || typeof repository.path !== "string") {
      throw unexpected("lists a container repository without a numeric id and a path");
    }
    return { id: repository.id, path: repository.path, status: typeof repository.status === "string" ? repository.status : null };
  });
}

/**
 * GitLab offers `7d`, `14d`, `30d`, `60d` and `90d` (older_than_options; 60d since 14.4), parsed
 * with ChronicDuration. Only whole days are converted: anything else is left to the caller.
 */
function durationMs(text: string): number | undefined {
  const days = /^(\d{1,4})d$/.exec(text)?.[1];
  return days === undefined ? undefined : Number(days) * DAY_MS;
}

/** keep_n is 1, 5, 10, 25, 50 or 100, or null for none; a number GitLab did not send is refused. */
function keepN(value: unknown, unexpected: Unexpected): number | undefined {
  if (value === null || value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number === "number" && Number.isSafeInteger(number) && number >= 0) return number;
  throw unexpected(`has keep_n ${JSON.stringify(value)}, not a number of tags`);
}

function optionalString(value: unknown, field: string, unexpected: Unexpected): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  throw unexpected(`has ${field} ${JSON.stringify(value)}, not a string`);
}

/** A rule's level; GitLab sends a name, but an unset one is read as the strictest. */
function accessLevel(value: unknown): string {
  return typeof value === "string" && value !== "" ? value : "admin";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
