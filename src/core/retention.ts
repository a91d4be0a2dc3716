/**
 * Tag retention: GitLab's cleanup-policy rules (GITLAB.md §12) applied to the tags of one
 * repository, dated by push time. Pure: the caller passes `now`.
 *
 * The order of the rules is GitLab's, taken from its CleanupTagsService (filter_out_latest!,
 * filter_by_name!, partition_by_keep_n, partition_by_older_than; protected tags last) and its
 * "How the cleanup policy works" docs: drop `latest`; keep names that do not match
 * name_regex_delete, or that match name_regex_keep ("regex_retain will override any overlapping
 * matches by regex_delete"); order what is left newest first and keep the keep_n first of THOSE
 * (so keep_n counts only tags the regexes would delete); keep tags not strictly older than
 * older_than (`created_at < older_than.ago`); keep protected tags; delete the rest.
 */
import type { Digest } from "./digest.js";
import { formatDuration } from "./duration.js";
import { UsageError } from "./errors.js";
import { compileRe2 } from "./re2-syntax.js";

/** One repository's rules, with GitLab's meanings. Regexes are sources as users typed them. */
export interface RetentionRules {
  /** Keep this many of the newest tags that the regexes would delete. */
  keepN?: number;
  /** Delete only tags pushed longer ago than this (ms). */
  olderThanMs?: number;
  /** Only tags whose whole name matches this may be deleted (the caller defaults it to `.*`). */
  nameRegexDelete: string;
  /** Tags whose whole name matches this are kept. */
  nameRegexKeep?: string;
}

/** A tag as the storage holds it. */
export interface TagFact {
  tag: string;
  digest: Digest;
  /** When the tag was last pointed at its digest: its `current/link`'s mtime, ms since the epoch. */
  pushedAt: number;
}

/** A pattern that protects tags from deletion, with where it came from (for the report). */
export interface ProtectedPattern {
  /** An RE2 regex on tag names, unanchored as GitLab matches it (TagRule#matches_tag_name?). */
  pattern: string;
  /** E.g. `GitLab tag protection rule`, `registry token tag_immutable_patterns`. */
  source: string;
}

/** Why a tag is kept: the first rule, in GitLab's order, that keeps it. */
export type TagKeepReason =
  | { kind: "latest" }
  | { kind: "name-regex-keep"; pattern: string }
  | { kind: "not-matched"; pattern: string }
  | { kind: "keep-n"; rank: number; n: number }
  | { kind: "newer-than"; ageMs: number; limitMs: number }
  /** `problem`: the pattern could not be read, so it protects every tag. */
  | { kind: "protected"; pattern: string; source: string; problem?: string };

export type TagKeepReasonKind = TagKeepReason["kind"];

/** A kept tag and why. */
export type KeptTag = TagFact & { reason: TagKeepReason };
/** A tag to delete, with a sentence saying why, e.g. `pushed 2026-03-02, older than 14d, …`. */
export type DeletedTag = TagFact & { reason: string };

/** The decisions for one repository's tags; each list sorted by tag name (code units). */
export interface TagDecisions {
  kept: KeptTag[];
  deleted: DeletedTag[];
}

/** The tag GitLab's cleanup policies never delete. */
export const LATEST_TAG = "latest";

/**
 * Decides which tags of one repository go, with GitLab's cleanup-policy semantics (see the file
 * comment). Every tag ends up in exactly one list. Ties in push time (likely on S3, which dates
 * objects to the second) are broken by name in natural order, the later name counting as newer:
 * `build-10` outranks `build-9`, `nightly-2026-03-02` outranks `nightly-2026-03-01`. GitLab's own
 * order is unspecified there (an unstable sort_by).
 *
 * Throws UsageError when a rule's regex is not one GitLab would accept: validate at the edge
 * with compileTagRegex to name the flag or line.
 */
export function decideTags(
  tags: readonly TagFact[],
  rules: RetentionRules,
  options: { now: number; protectedPatterns?: readonly ProtectedPattern[] },
): TagDecisions {
  const remove = compileTagRegex(rules.nameRegexDelete, "name_regex_delete");
  const keep = rules.nameRegexKeep ? compileTagRegex(rules.nameRegexKeep, "name_regex_keep") : undefined;
  const protections = (options.protectedPatterns ?? []).map(compileProtection);
  const kept: KeptTag[] = [];
  const candidates: TagFact[] = [];
  for (const fact of tags) {
    const reason = nameReason(fact.tag, rules, remove, keep);
    if (reason) kept.push({ ...fact, reason });
    else candidates.push(fact);
  }
  const deleted: DeletedTag[] = [];
  [...candidates].sort(newestFirst).forEach((fact, index) => {
    const rank = index + 1;
    const reason = countOrAgeReason(fact, rank, rules, options.now) ?? protectedReason(fact.tag, protections);
    if (reason) kept.push({ ...fact, reason });
    else deleted.push({ ...fact, reason: deletionReason(fact, rank, rules) });
  });
  return { kept: kept.sort(byTag), deleted: deleted.sort(byTag) };
}

/**
 * Compiles a user's tag-name regex as GitLab does (`\A(?:…)\z`: the whole name must match).
 * Throws UsageError naming `flag` (a flag, or a file and line) when GitLab's RE2 would refuse
 * it or JavaScript cannot express it the same way (see re2-syntax.ts for what differs).
 */
export function compileTagRegex(source: string, flag: string): RegExp {
  const compiled = compileRe2(source, "whole-name");
  if ("problem" in compiled) {
    throw new UsageError(`${flag}: "${source}" is not a regular expression GitLab accepts: ${compiled.problem}.`);
  }
  return compiled.regex;
}

/** A short phrase saying why a tag is kept, e.g. `one of the 10 newest (#3)`. */
export function describeTagKeepReason(reason: TagKeepReason): string {
  switch (reason.kind) {
    case "latest":
      return `the tag ${LATEST_TAG} is never deleted`;
    case "name-regex-keep":
      return `matches name_regex_keep ${reason.pattern}`;
    case "not-matched":
      return `does not match name_regex_delete ${reason.pattern}`;
    case "keep-n":
      return `one of the ${reason.n} newest (#${reason.rank})`;
    case "newer-than":
      return `pushed ${formatDuration(reason.ageMs)} ago, not older than ${formatDuration(reason.limitMs)}`;
    case "protected":
      return reason.problem === undefined
        ? `protected by ${reason.pattern} (${reason.source})`
        : `protected: ${reason.source} pattern ${reason.pattern} ${reason.problem}, so every tag is kept`;
  }
}

function nameReason(tag: string, rules: RetentionRules, remove: RegExp, keep: RegExp | undefined): TagKeepReason | undefined {
  if (tag === LATEST_TAG) return { kind: "latest" };
  if (!remove.test(tag)) return { kind: "not-matched", pattern: rules.nameRegexDelete };
  if (keep?.test(tag)) return { kind: "name-regex-keep", pattern: rules.nameRegexKeep! };
  return undefined;
}

function countOrAgeReason(fact: TagFact, rank: number, rules: RetentionRules, now: number): TagKeepReason | undefined {
  if (rules.keepN !== undefined && rank <= rules.keepN) return { kind: "keep-n", rank, n: rules.keepN };
  if (rules.olderThanMs !== undefined) {
    const ageMs = now - fact.pushedAt;
    // GitLab deletes only `created_at < older_than.ago`: a tag exactly at the limit stays.
    if (!(ageMs > rules.olderThanMs)) return { kind: "newer-than", ageMs, limitMs: rules.olderThanMs };
  }
  return undefined;
}

interface Protection {
  from: ProtectedPattern;
  regex?: RegExp;
  problem?: string;
}

function compileProtection(from: ProtectedPattern): Protection {
  const compiled = compileRe2(from.pattern, "search");
  return "problem" in compiled ? { from, problem: `cannot be read (${compiled.problem})` } : { from, regex: compiled.regex };
}

function protectedReason(tag: string, protections: readonly Protection[]): TagKeepReason | undefined {
  // An unreadable pattern protects everything: it comes from GitLab, which enforces it anyway.
  const hit = protections.find((p) => p.regex === undefined || p.regex.test(tag));
  if (!hit) return undefined;
  const reason = { kind: "protected" as const, pattern: hit.from.pattern, source: hit.from.source };
  return hit.problem === undefined ? reason : { ...reason, problem: hit.problem };
}

function deletionReason(fact: TagFact, rank: number, rules: RetentionRules): string {
  const parts = [`pushed ${new Date(fact.pushedAt).toISOString().slice(0, 10)}`];
  if (rules.olderThanMs !== undefined) parts.push(`older than ${formatDuration(rules.olderThanMs)}`);
  if (rules.keepN !== undefined) parts.push(`beyond the ${rules.keepN} newest (#${rank})`);
  const keep = rules.nameRegexKeep ? ` and not ${rules.nameRegexKeep}` : "";
  parts.push(`matches ${rules.nameRegexDelete}${keep}`);
  return parts.join(", ");
}

function newestFirst(a: TagFact, b: TagFact): number {
  return b.pushedAt - a.pushedAt || naturalCompare(b.tag, a.tag);
}

function byTag(a: TagFact, b: TagFact): number {
  return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

const CHUNKS = /\d+|\D+/g;

/** Natural order: runs of digits compare by value, the rest by code units; never 0 for a != b. */
export function naturalCompare(a: string, b: string): number {
  const left = a.match(CHUNKS) ?? [];
  const right = b.match(CHUNKS) ?? [];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i]!;
    const y = right[i]!;
    if (x === y) continue;
    if (isDigit(x) && isDigit(y)) {
      const byValue = compareDigitRuns(x, y);
      if (byValue !== 0) return byValue;
    }
    return x < y ? -1 : 1;
  }
  return left.length - right.length;
}

function isDigit(chunk: string): boolean {
  return chunk.charCodeAt(0) >= 48 && chunk.charCodeAt(0) <= 57;
}

function compareDigitRuns(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, "");
  const b = y.replace(/^0+(?=\d)/, "");
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
