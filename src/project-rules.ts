/**
 * What each repository's GitLab project says about its tags: its cleanup policy
 * (`container_expiration_policy`, for `--gitlab-policies`) as RetentionRules, and its protected
 * tag rules as ProtectedPatterns that keep tags from retention (GITLAB.md §3, §12).
 *
 * A repository belongs to the first of its candidate project paths (the three longest prefixes,
 * longest first) that GitLab knows. Each path is looked up once per run and each project read
 * once, however many repositories it has: answers are cached per path, and concurrent callers
 * share the request in flight. At most `concurrency` REST requests are in flight at a time.
 *
 * Everything here errs on keeping tags: a policy this tool cannot apply exactly as GitLab would
 * gives its repositories no retention (`false`, so no other rule source steps in) and a warning;
 * a protection rule applies to whoever runs the tool.
 */
import { UsageError } from "./core/errors.js";
import { compileRe2 } from "./core/re2-syntax.js";
import { candidateProjectPaths, type RepositoryName } from "./core/repository-name.js";
import { compileTagRegex, type ProtectedPattern, type RetentionRules } from "./core/retention.js";
import { Semaphore } from "./execute/pool.js";
import type { GitLabApi, ProjectExpirationPolicy, TagProtectionRule } from "./gitlab/ports.js";

/** REST requests in flight at most, by default: gentle on GitLab, enough to hide latency. */
export const PROJECT_RULES_CONCURRENCY = 4;

/** What a repository's project says about its tags. */
export interface ProjectRules {
  /** The project's full path; undefined when GitLab knows none (an orphan) or nothing was asked. */
  project?: string;
  /**
   * The project's cleanup policy as retention rules:
   * - undefined: the project says nothing (no project, no policy record, or `policies` was not
   *   asked), so other rule sources (a policy file, the flags) decide;
   * - `false`: no retention for this repository, whatever else says: the project disabled its
   *   policy (GitLab never runs it, neither does this), or the policy cannot be applied exactly
   *   as GitLab would (see `warnings`);
   * - rules: an enabled policy, converted field by field.
   */
  rules?: RetentionRules | false;
  /**
   * The project's tag protection rules, whatever the minimum role they name for delete. GitLab
   * lets an administrator delete a protected tag by hand (its registry tokens deny admins
   * nothing), but its cleanup policies never delete one; retention here is such a policy, so a
   * protected tag is never deleted by retention, whoever runs the tool, admins included. Empty
   * when `protection` was not asked, the project has no rules, or the token may not list them
   * (below Maintainer, who cannot delete there anyway; GitLab before 18.7 has no such endpoint,
   * and then the patterns GitLab puts in registry tokens are what protects).
   */
  protectedTags: readonly ProtectedPattern[];
  /**
   * Problems with the project's answers, each naming the project and what was wrong and what the
   * tool does instead. The same strings for every repository of a project: dedupe them to print
   * each once.
   */
  warnings: readonly string[];
}

/** What to ask GitLab for. */
export interface ProjectRulesOptions {
  /** Read each project's cleanup policy (`--gitlab-policies`). */
  policies: boolean;
  /** Read each project's tag protection rules. */
  protection: boolean;
  /** REST requests in flight at most; default PROJECT_RULES_CONCURRENCY. */
  concurrency?: number;
}

/** Looks up what a repository's project says; see createProjectRules. */
export type ProjectRulesLookup = (name: RepositoryName) => Promise<ProjectRules>;

/** What one path answered: whether it is a project, and its policy when that was read on the way. */
interface PathAnswer {
  exists: boolean;
  policy?: ProjectExpirationPolicy;
}

type ProjectFacts = Omit<ProjectRules, "project">;

const NOTHING: ProjectRules = Object.freeze({ protectedTags: Object.freeze([]), warnings: Object.freeze([]) });

/**
 * Returns a lookup of each repository's project rules for one run (the caches live as long as
 * the returned function). With neither option it never sends a request; for an orphan (no
 * candidate path is a project, or the name has one element) it sends only the lookups.
 *
 * With `policies`, a path is probed with the project read that carries the policy, so a project
 * costs one `GET /projects/:id`; only when that has no policy (no such project, or one without a
 * policy record) does `projectExists` tell the two apart. Without it, `projectExists` alone.
 *
 * The adapter's errors propagate: a password makes the policy read throw UsageError (exit 2;
 * the lookup alone throws AuthError, since `projectExists` does not single passwords out),
 * a token without API scope AuthError. A failed request fails every repository waiting on it.
 */
export function createProjectRules(api: GitLabApi, options: ProjectRulesOptions): ProjectRulesLookup {
  if (!options.policies && !options.protection) return async () => NOTHING;
  const slots = new Semaphore(options.concurrency ?? PROJECT_RULES_CONCURRENCY);
  const paths = new Map<string, Promise<PathAnswer>>();
  const projects = new Map<string, Promise<ProjectFacts>>();
  const probe = (path: string) => cached(paths, path, () => probePath(api, slots, path, options.policies));
  const facts = (path: string, answer: PathAnswer) =>
    cached(projects, path, () => readProject(api, slots, path, answer, options));
  return async (name) => {
    for (const path of candidateProjectPaths(name)) {
      const answer = await probe(path);
      if (answer.exists) return { project: path, ...(await facts(path, answer)) };
    }
    return NOTHING;
  };
}

function cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let promise = cache.get(key);
  if (!promise) {
    promise = load();
    cache.set(key, promise);
  }
  return promise;
}

async function probePath(api: GitLabApi, slots: Semaphore, path: string, policies: boolean): Promise<PathAnswer> {
  if (policies) {
    const policy = await slots.use(() => api.expirationPolicy(path));
    if (policy) return { exists: true, policy };
  }
  return { exists: await slots.use(() => api.projectExists(path)) };
}

async function readProject(
  api: GitLabApi,
  slots: Semaphore,
  path: string,
  answer: PathAnswer,
  options: ProjectRulesOptions,
): Promise<ProjectFacts> {
  const warnings: string[] = [];
  const rules = options.policies ? policyRules(path, answer.policy, warnings) : undefined;
  const protectedTags = options.protection
    ? protectionPatterns(path, await slots.use(() => api.tagProtectionRules(path)), warnings)
    : [];
  return Object.freeze({ rules, protectedTags: Object.freeze(protectedTags), warnings: Object.freeze(warnings) });
}

/**
 * GitLab's policy as RetentionRules (see ProjectRules.rules). `name_regex_delete` is kept as
 * GitLab has it: "" (its null or empty pattern) matches no tag, as GitLab's `\A\z` does, and is
 * never widened to `.*`.
 */
function policyRules(path: string, policy: ProjectExpirationPolicy | undefined, warnings: string[]): RetentionRules | false | undefined {
  if (!policy) return undefined;
  if (!policy.enabled) return false;
  const problems: string[] = [];
  if (policy.olderThan !== undefined && policy.olderThanMs === undefined) {
    problems.push(
      `Project ${path}'s cleanup policy has older_than "${policy.olderThan}", which this tool cannot read as a duration ` +
        "(it reads whole days, such as 14d).",
    );
  }
  problems.push(...regexProblems(path, policy));
  if (problems.length > 0) {
    const outcome = `Tag retention skips the repositories of project ${path}: their tags are kept.`;
    warnings.push(...problems.map((problem) => `${problem} ${outcome}`));
    return false;
  }
  return {
    nameRegexDelete: policy.nameRegexDelete,
    ...(policy.keepN !== undefined ? { keepN: policy.keepN } : {}),
    ...(policy.olderThanMs !== undefined ? { olderThanMs: policy.olderThanMs } : {}),
    ...(policy.nameRegexKeep !== undefined ? { nameRegexKeep: policy.nameRegexKeep } : {}),
  };
}

/** Each of the policy's patterns that GitLab's RE2 would refuse, or that cannot be matched alike here. */
function regexProblems(path: string, policy: ProjectExpirationPolicy): string[] {
  const fields: Array<[string, string | undefined]> = [
    ["name_regex_delete", policy.nameRegexDelete],
    ["name_regex_keep", policy.nameRegexKeep],
  ];
  return fields.flatMap(([field, source]) => {
    if (source === undefined) return [];
    try {
      compileTagRegex(source, `Project ${path}'s cleanup policy ${field}`);
      return [];
    } catch (error) {
      if (error instanceof UsageError) return [error.message];
      throw error;
    }
  });
}

/** The rules as patterns; a pattern that cannot be read still protects (every tag), with a warning. */
function protectionPatterns(path: string, rules: TagProtectionRule[] | undefined, warnings: string[]): ProtectedPattern[] {
  return (rules ?? []).map((rule) => {
    const compiled = compileRe2(rule.pattern, "search");
    if ("problem" in compiled) {
      warnings.push(
        `Project ${path}'s tag protection rule "${rule.pattern}" cannot be matched here (${compiled.problem}): ` +
          "tag retention keeps every tag of its repositories.",
      );
    }
    return {
      pattern: rule.pattern,
      source: `GitLab tag protection rule, delete: ${rule.minimumAccessLevelForDelete}`,
    };
  });
}
