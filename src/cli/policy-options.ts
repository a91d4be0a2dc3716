/**
 * The flags of tag retention and repository filters -> the run's RunPolicy. Validation is pure
 * (every bad value a UsageError naming its flag); reading --policy-file is the one step with I/O.
 */
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { parseMaxDelete, repositoryGlobProblem, type MaxDelete, type RunPolicy } from "../core/policy.js";
import { compileTagRegex, type RetentionRules } from "../core/retention.js";
import { pathValue } from "./path-value.js";
import { readPolicyFile } from "./policy-file.js";

/** What the flags say about tags and repositories, validated. */
export interface PolicyFlags {
  /** The rules the flags give, for repositories no policy-file entry speaks about. */
  rules?: RetentionRules;
  policyFile?: string;
  gitlabPolicies: boolean;
  include: string[];
  exclude: string[];
  maxDelete?: MaxDelete;
}

/** The raw flags this file reads (as commander hands them over). */
export interface RawPolicyFlags {
  keepN?: string;
  olderThan?: string;
  nameRegexDelete?: string;
  nameRegexKeep?: string;
  policyFile?: string;
  gitlabPolicies?: boolean;
  repository?: string[] | string;
  excludeRepository?: string[] | string;
  maxDelete?: string;
}

/** Validates the retention and filter flags. Throws UsageError naming the flag. */
export function resolvePolicyFlags(raw: RawPolicyFlags): PolicyFlags {
  const flags: PolicyFlags = {
    gitlabPolicies: raw.gitlabPolicies === true,
    include: globs(raw.repository, "--repository"),
    exclude: globs(raw.excludeRepository, "--exclude-repository"),
  };
  const rules = ruleFlags(raw);
  if (rules) flags.rules = rules;
  const policyFile = pathValue(raw.policyFile, "--policy-file");
  if (policyFile !== undefined) flags.policyFile = policyFile;
  if (raw.maxDelete !== undefined) flags.maxDelete = parseMaxDelete(raw.maxDelete, "--max-delete");
  if (flags.maxDelete && !flags.rules && !flags.policyFile && !flags.gitlabPolicies) {
    throw new UsageError("--max-delete limits tag retention: give a rule too (--keep-n, --older-than, --name-regex-delete, --policy-file or --gitlab-policies).");
  }
  return flags;
}

/** The run's policy: the grace period, the filters, and retention from the flags and the policy file. */
export async function buildPolicy(minAgeMs: number, flags: PolicyFlags): Promise<RunPolicy> {
  const policy: RunPolicy = { minAgeMs, repositories: { include: flags.include, exclude: flags.exclude } };
  if (flags.rules || flags.policyFile || flags.gitlabPolicies) {
    const entries = flags.policyFile ? await readPolicyFile(flags.policyFile) : [];
    policy.retention = {
      entries,
      ...(flags.policyFile ? { file: flags.policyFile } : {}),
      ...(flags.rules ? { defaults: flags.rules } : {}),
    };
  }
  if (flags.maxDelete) policy.maxDelete = flags.maxDelete;
  return policy;
}

/** --keep-n, --older-than and the regexes; `.*` deletes once any rule is given. */
function ruleFlags(raw: RawPolicyFlags): RetentionRules | undefined {
  if ([raw.keepN, raw.olderThan, raw.nameRegexDelete, raw.nameRegexKeep].every((value) => value === undefined)) return undefined;
  const rules: RetentionRules = { nameRegexDelete: raw.nameRegexDelete ?? ".*" };
  compileTagRegex(rules.nameRegexDelete, "--name-regex-delete");
  if (raw.nameRegexKeep !== undefined) {
    compileTagRegex(raw.nameRegexKeep, "--name-regex-keep");
    rules.nameRegexKeep = raw.nameRegexKeep;
  }
  if (raw.keepN !== undefined) {
    if (!/^\s*\d+\s*$/.test(raw.keepN)) throw new UsageError(`Invalid --keep-n "${raw.keepN}": use a whole number of tags to keep, e.g. 10.`);
    rules.keepN = Number(raw.keepN);
  }
  if (raw.olderThan !== undefined) {
    const ms = parseDuration(raw.olderThan.trim());
    if (ms === undefined) throw new UsageError(`Invalid --older-than "${raw.olderThan}": use a duration like 14d, 90d or 12h.`);
    rules.olderThanMs = ms;
  }
  return rules;
}

function globs(value: string[] | string | undefined, flag: string): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : value.split(",");
  return list.map((glob) => {
    const trimmed = glob.trim();
    const problem = repositoryGlobProblem(trimmed);
    if (problem !== undefined) throw new UsageError(`Invalid ${flag} "${glob}": ${problem}.`);
    return trimmed;
  });
}
