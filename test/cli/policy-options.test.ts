/** The retention and filter flags -> the run's policy. */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import { retentionFor } from "../../src/core/policy.js";
import { buildPolicy, resolvePolicyFlags } from "../../src/cli/policy-options.js";

const refusal = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error("expected a UsageError");
};

describe("resolvePolicyFlags", () => {
  it("gives no rules and all repositories when no flag is given", () => {
    expect(resolvePolicyFlags({})).toEqual({ gitlabPolicies: false, include: [], exclude: [] });
  });

  it("defaults the delete regex to .* once any rule is given", () => {
    expect(resolvePolicyFlags({ keepN: "10" }).rules).toEqual({ nameRegexDelete: ".*", keepN: 10 });
    expect(resolvePolicyFlags({ olderThan: "14d", nameRegexKeep: "v.*" }).rules)
      .toEqual({ nameRegexDelete: ".*", nameRegexKeep: "v.*", olderThanMs: 14 * 86_400_000 });
  });

  it("takes repeated and comma-separated repository globs", () => {
    expect(resolvePolicyFlags({ repository: ["group/**", "other/app"], excludeRepository: "group/skip,group/old/**" }))
      .toMatchObject({ include: ["group/**", "other/app"], exclude: ["group/skip", "group/old/**"] });
  });

  it.each([
    [{ keepN: "ten" }, 'Invalid --keep-n "ten"'],
    [{ olderThan: "two weeks" }, 'Invalid --older-than "two weeks"'],
    [{ nameRegexDelete: "(?=x)" }, "--name-regex-delete"],
    [{ nameRegexKeep: "a\\1" }, "--name-regex-keep"],
    [{ repository: ["/group"] }, 'Invalid --repository "/group": repository paths have no leading /'],
    [{ maxDelete: "lots" }, "--max-delete"],
    [{ maxDelete: "10" }, "--max-delete limits tag retention: give a rule too"],
    [{ policyFile: " " }, "--policy-file is empty"],
  ])("refuses %o naming the flag", (raw, message) => {
    expect(refusal(() => resolvePolicyFlags(raw)).message).toContain(message);
  });
});

describe("buildPolicy", () => {
  it("has no retention without a rule, so tags are never touched", async () => {
    const policy = await buildPolicy(3_600_000, resolvePolicyFlags({ repository: ["group/**"] }));
    expect(policy).toEqual({ minAgeMs: 3_600_000, repositories: { include: ["group/**"], exclude: [] } });
  });

  it("applies the flags' rules to every repository and keeps --max-delete", async () => {
    const policy = await buildPolicy(0, resolvePolicyFlags({ keepN: "2", maxDelete: "100%" }));
    expect(retentionFor(policy, "any/repo")).toEqual({ nameRegexDelete: ".*", keepN: 2 });
    expect(policy.maxDelete).toEqual({ percent: 100 });
  });
});
