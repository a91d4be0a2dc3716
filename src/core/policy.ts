/**
 * The run's policy: one value object with every rule the plan applies (the grace period,
 * repository filters, tag retention, the max-delete guard), and pure helpers that read it. The
 * plan and the re-plan during execution take the same value, so they cannot disagree.
 *
 * Repository globs use picomatch on repository paths (`/`-separated, always lowercase in a
 * registry, so matching ignores case): `*` and `?` match within one path element, `**` any number
 * of elements, none included (`group/**` matches `group`, `group/app` and `group/a/b`),
 * `{app,web}` either, `[ab]` one of. A pattern without wildcards matches exactly that path.
 */
import picomatch from "picomatch";
import { UsageError } from "./errors.js";
import type { RetentionRules } from "./retention.js";

/** Everything the plan needs to know about what this run may delete. */
export interface RunPolicy {
  /** Untagged manifests pushed more recently than this are kept (`--min-age`). */
  minAgeMs: number;
  /** Which repositories the run looks at: include (none = all), then exclude wins. */
  repositories: { include: string[]; exclude: string[] };
  /** Tag retention; absent: tags are never touched. */
  retention?: RetentionSource;
  /** The refusal limit for tag deletions; see effectiveMaxDelete for the default. */
  maxDelete?: MaxDelete;
}

/** A policy with only a grace period: every repository, no retention (tests, the benchmark, the API). */
export function gracePolicy(minAgeMs: number): RunPolicy {
  return { minAgeMs, repositories: { include: [], exclude: [] } };
}

/** One entry of a policy file: the rules for the repositories its globs match. */
export interface RetentionEntry {
  repositories: string[];
  /** `false`: no retention for these repositories (`retention: false`). */
  rules: RetentionRules | false;
  /** The entry's line in the policy file, for messages. */
  line?: number;
}

/**
 * Where each repository's rules come from, tried in this order (the first that has an answer
 * for a repository decides): `entries` (a policy file, first matching entry wins), then
 * `projectRules` (GitLab projects' own cleanup policies, `--gitlab-policies`, keyed by
 * repository path), then `defaults` (the rule flags).
 */
export interface RetentionSource {
  entries: RetentionEntry[];
  /** The policy file the entries were read from, for messages. */
  file?: string;
  /** Repository path -> its project's cleanup policy; `false` where the project disabled it. */
  projectRules?: ReadonlyMap<string, RetentionRules | false>;
  /** Rules for repositories nothing above speaks about. */
  defaults?: RetentionRules;
}

/** Where a repository's retention rules came from. */
export type RetentionOrigin =
  | { kind: "policy-file"; file?: string; line?: number; pattern: string }
  | { kind: "gitlab-project" }
  | { kind: "flags" };

/** A repository's retention (`false`: explicitly none) and where it came from. */
export interface RetentionChoice {
  rules: RetentionRules | false;
  origin: RetentionOrigin;
}

/** At most `count` tag deletions in total, and at most `percent` % of any one repository's tags. */
export interface MaxDelete {
  count?: number;
  percent?: number;
}

/** The guard for runs with retention when `--max-delete` is not given: a wrong regex cannot wipe a project. */
export const DEFAULT_MAX_DELETE: Readonly<MaxDelete> = Object.freeze({ percent: 50 });

/** True when the run looks at repository `name`: it matches an include glob (or there are none) and no exclude glob. */
export function repositoryIncluded(policy: RunPolicy, name: string): boolean {
  const { include, exclude } = policy.repositories;
  if (include.length > 0 && !matchesAny(include, name)) return false;
  return !matchesAny(exclude, name);
}

/** The retention rules for repository `name`, or undefined when its tags are not to be touched. */
export function retentionFor(policy: RunPolicy, name: string): RetentionRules | undefined {
  const choice = retentionChoice(policy, name);
  return choice && choice.rules !== false ? choice.rules : undefined;
}

/** Like retentionFor, with where the answer came from (for the report); undefined when nothing speaks about `name`. */
export function retentionChoice(policy: RunPolicy, name: string): RetentionChoice | undefined {
  const source = policy.retention;
  if (!source) return undefined;
  for (const entry of source.entries) {
    const pattern = entry.repositories.find((glob) => globMatcher(glob)(name));
    if (pattern !== undefined) {
      return { rules: entry.rules, origin: { kind: "policy-file", file: source.file, line: entry.line, pattern } };
    }
  }
  const project = source.projectRules?.get(name);
  if (project !== undefined) return { rules: project, origin: { kind: "gitlab-project" } };
  return source.defaults ? { rules: source.defaults, origin: { kind: "flags" } } : undefined;
}

/** The max-delete limit in force: the given one, else DEFAULT_MAX_DELETE when the run has retention. */
export function effectiveMaxDelete(policy: RunPolicy): MaxDelete | undefined {
  return policy.maxDelete ?? (policy.retention ? DEFAULT_MAX_DELETE : undefined);
}

/** Says why a repository glob can never match (empty, or a leading or trailing `/`), or undefined. */
export function repositoryGlobProblem(glob: string): string | undefined {
  if (glob.trim() === "") return "the pattern is empty";
  if (glob.startsWith("/")) return "repository paths have no leading /";
  if (glob.endsWith("/")) return "repository paths have no trailing / (for everything below, end with /**)";
  return undefined;
}

const matchers = new Map<string, (name: string) => boolean>();

function globMatcher(glob: string): (name: string) => boolean {
  let matcher = matchers.get(glob);
  if (!matcher) {
    // windows: false, so picomatch never looks at the platform and `\` is never a separator.
    matcher = picomatch(glob, { windows: false, nocase: true, dot: true });
    matchers.set(glob, matcher);
  }
  return matcher;
}

function matchesAny(globs: readonly string[], name: string): boolean {
  return globs.some((glob) => globMatcher(glob)(name));
}

const COUNT = /^\d+$/;
const PERCENT = /^(\d+)%$/;

/**
 * Parses `--max-delete`: a count (`100`), a percentage (`50%`), or both (`200,50%`). The value
 * replaces the default entirely: `--max-delete 200` has no per-repository percentage.
 * `100%` lifts the percentage limit. Throws UsageError naming `flag`.
 */
export function parseMaxDelete(text: string, flag: string): MaxDelete {
  const parts = text.split(",").map((part) => part.trim());
  const result: MaxDelete = {};
  for (const part of parts) {
    const percent = PERCENT.exec(part);
    if (percent && result.percent === undefined && Number(percent[1]) <= 100) result.percent = Number(percent[1]);
    else if (COUNT.test(part) && result.count === undefined) result.count = Number(part);
    else {
      throw new UsageError(
        `${flag} "${text}" is not a number of tags (100), a percentage from 0% to 100% (50%), or both (200,50%).`,
      );
    }
  }
  return result;
}

/** One repository's tag counts for the max-delete guard. */
export interface TagDeletionCount {
  name: string;
  tagsDeleted: number;
  tagsTotal: number;
}

/**
 * The refusal message when the planned tag deletions go beyond `maxDelete`, else undefined.
 * "More than p%" is strict: 5 of 10 tags pass a 50% limit, 6 do not.
 */
export function checkMaxDelete(maxDelete: MaxDelete | undefined, perRepository: readonly TagDeletionCount[]): string | undefined {
  if (!maxDelete) return undefined;
  const total = perRepository.reduce((sum, repository) => sum + repository.tagsDeleted, 0);
  if (maxDelete.count !== undefined && total > maxDelete.count) {
    return `Refusing to delete ${total} tags in total: more than --max-delete ${maxDelete.count} allows. ` +
      "Check the rules with a dry run (-n); if the plan is right, pass a larger --max-delete.";
  }
  return maxDelete.percent === undefined ? undefined : checkPercent(maxDelete.percent, perRepository);
}

function checkPercent(percent: number, perRepository: readonly TagDeletionCount[]): string | undefined {
  const over = perRepository
    .filter((r) => r.tagsDeleted > 0 && r.tagsDeleted * 100 > percent * r.tagsTotal)
    .map((r) => ({ ...r, share: (r.tagsDeleted * 100) / r.tagsTotal }))
    .sort((a, b) => b.share - a.share || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const worst = over[0];
  if (!worst) return undefined;
  const others = over.length > 1 ? ` (and in ${over.length - 1} more ${over.length === 2 ? "repository" : "repositories"})` : "";
  return `Refusing to delete ${worst.tagsDeleted} of ${worst.tagsTotal} tags (${formatShare(worst.share)}) ` +
    `in repository ${worst.name}${others}: more than the --max-delete limit of ${percent}% of a repository's tags. ` +
    "Check the rules with a dry run (-n); if the plan is right, pass --max-delete 100% to lift the limit.";
}

function formatShare(share: number): string {
  return `${Number.isInteger(share) ? share : share.toFixed(1)}%`;
}
