import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import {
  checkMaxDelete,
  DEFAULT_MAX_DELETE,
  effectiveMaxDelete,
  parseMaxDelete,
  repositoryGlobProblem,
  repositoryIncluded,
  retentionChoice,
  retentionFor,
  type MaxDelete,
  type RetentionSource,
  type RunPolicy,
  type TagDeletionCount,
} from "../../src/core/policy.js";
import type { RetentionRules } from "../../src/core/retention.js";

function policy(overrides: Partial<RunPolicy> = {}): RunPolicy {
  return { minAgeMs: 24 * 3_600_000, repositories: { include: [], exclude: [] }, ...overrides };
}

function filtered(include: string[], exclude: string[] = []): RunPolicy {
  return policy({ repositories: { include, exclude } });
}

describe("repositoryIncluded: glob semantics on repository paths", () => {
  it.each<[string, string[], string[]]>([
    ["group/**", ["group", "group/app", "group/sub/app", "group/a/b/c"], ["groupx/app", "other/group/app", "groupx"]],
    ["group/*", ["group/app", "group/web"], ["group", "group/sub/app"]],
    ["group/*/app", ["group/sub/app", "group/x/app"], ["group/app", "group/a/b/app", "group/sub/app2"]],
    ["**/app", ["app", "group/app", "a/b/app"], ["group/app2", "group/app/x"]],
    ["group/**/app", ["group/app", "group/a/app", "group/a/b/app"], ["group/app/x"]],
    ["group/app*", ["group/app", "group/app-cache"], ["group/app/x"]],
    ["group/{app,web}", ["group/app", "group/web"], ["group/api"]],
    ["group/ap?", ["group/app", "group/api"], ["group/apps"]],
    ["group/app", ["group/app"], ["group/app/cache", "group", "group/apps"]],
    ["Group/App", ["group/app"], []], // registry paths are lowercase: matching ignores case
    ["**", ["a", "a/b/c"], []],
  ])("%s", (glob, yes, no) => {
    const included = filtered([glob]);
    for (const name of yes) expect(repositoryIncluded(included, name), name).toBe(true);
    for (const name of no) expect(repositoryIncluded(included, name), name).toBe(false);
  });

  it.each<[string, string[], string[], string, boolean]>([
    ["no include looks at every repository", [], [], "any/thing", true],
    ["any include may match", ["a/**", "b/**"], [], "b/x", true],
    ["no include matches", ["a/**", "b/**"], [], "c/x", false],
    ["exclude alone", [], ["legacy/**"], "legacy/app", false],
    ["exclude alone leaves the rest", [], ["legacy/**"], "group/app", true],
    ["exclude wins over include", ["group/**"], ["group/legacy/**"], "group/legacy/app", false],
    ["exclude wins only where it matches", ["group/**"], ["group/legacy/**"], "group/app", true],
  ])("%s", (_title, include, exclude, name, expected) => {
    expect(repositoryIncluded(filtered(include, exclude), name)).toBe(expected);
  });
});

describe("repositoryGlobProblem", () => {
  it.each<[string, string | undefined]>([
    ["group/**", undefined],
    ["app", undefined],
    ["", "the pattern is empty"],
    ["  ", "the pattern is empty"],
    ["/group/**", "repository paths have no leading /"],
    ["group/", "repository paths have no trailing / (for everything below, end with /**)"],
  ])("%j", (glob, problem) => {
    expect(repositoryGlobProblem(glob)).toBe(problem);
  });
});

describe("retentionFor and retentionChoice", () => {
  const KEEP_10: RetentionRules = { nameRegexDelete: "main-.*", keepN: 10 };
  const MR_14D: RetentionRules = { nameRegexDelete: "mr-.*", olderThanMs: 14 * 86_400_000 };
  const FLAGS: RetentionRules = { nameRegexDelete: ".*", keepN: 5 };
  const PROJECT: RetentionRules = { nameRegexDelete: ".*", olderThanMs: 7 * 86_400_000 };
  const source: RetentionSource = {
    file: "policy.yml",
    entries: [
      { repositories: ["group/app", "group/app/**"], rules: KEEP_10, line: 2 },
      { repositories: ["group/legacy/**"], rules: false, line: 5 },
      { repositories: ["group/**"], rules: MR_14D, line: 7 },
    ],
    projectRules: new Map<string, RetentionRules | false>([
      ["group/app", PROJECT],
      ["other/app", PROJECT],
      ["other/off", false],
    ]),
    defaults: FLAGS,
  };
  const withRetention = policy({ retention: source });

  it.each<[string, string, RetentionRules | undefined]>([
    ["the first matching entry wins over later, broader ones", "group/app/cache", KEEP_10],
    ["a later entry applies where the first does not match", "group/web", MR_14D],
    ["retention: false means no retention", "group/legacy/old", undefined],
    ["a policy-file entry wins over the project's own policy", "group/app", KEEP_10],
    ["the project's policy applies where no entry matches", "other/app", PROJECT],
    ["a project that disabled its policy gets none, not the flags'", "other/off", undefined],
    ["the flags apply where nothing else speaks", "third/app", FLAGS],
  ])("%s", (_title, name, expected) => {
    expect(retentionFor(withRetention, name)).toEqual(expected);
  });

  it("says where the rules came from", () => {
    expect(retentionChoice(withRetention, "group/app/cache")).toEqual({
      rules: KEEP_10,
      origin: { kind: "policy-file", file: "policy.yml", line: 2, pattern: "group/app/**" },
    });
    expect(retentionChoice(withRetention, "group/legacy/x")).toEqual({
      rules: false,
      origin: { kind: "policy-file", file: "policy.yml", line: 5, pattern: "group/legacy/**" },
    });
    expect(retentionChoice(withRetention, "other/app")).toEqual({ rules: PROJECT, origin: { kind: "gitlab-project" } });
    expect(retentionChoice(withRetention, "third/app")).toEqual({ rules: FLAGS, origin: { kind: "flags" } });
  });

  it("has nothing to say without retention, or where no source matches", () => {
    expect(retentionFor(policy(), "group/app")).toBeUndefined();
    expect(retentionChoice(policy(), "group/app")).toBeUndefined();
    const fileOnly = policy({ retention: { entries: [{ repositories: ["a/**"], rules: KEEP_10 }] } });
    expect(retentionFor(fileOnly, "b/app")).toBeUndefined();
    expect(retentionFor(fileOnly, "a/app")).toEqual(KEEP_10);
  });
});

describe("effectiveMaxDelete", () => {
  const retention: RetentionSource = { entries: [], defaults: { nameRegexDelete: ".*" } };
  it.each<[string, RunPolicy, MaxDelete | undefined]>([
    ["retention without --max-delete gets the 50% default", policy({ retention }), { percent: 50 }],
    ["the flag replaces the default", policy({ retention, maxDelete: { count: 10 } }), { count: 10 }],
    ["no retention, no limit", policy(), undefined],
  ])("%s", (_title, given, expected) => {
    expect(effectiveMaxDelete(given)).toEqual(expected);
  });

  it("exports the default", () => {
    expect(DEFAULT_MAX_DELETE).toEqual({ percent: 50 });
    expect(Object.isFrozen(DEFAULT_MAX_DELETE)).toBe(true);
  });
});

describe("parseMaxDelete", () => {
  it.each<[string, MaxDelete]>([
    ["50%", { percent: 50 }],
    ["100%", { percent: 100 }],
    ["0%", { percent: 0 }],
    ["100", { count: 100 }],
    ["0", { count: 0 }],
    ["200,50%", { count: 200, percent: 50 }],
    ["50%, 200", { count: 200, percent: 50 }],
  ])("%j", (text, expected) => {
    expect(parseMaxDelete(text, "--max-delete")).toEqual(expected);
  });

  it.each(["", "abc", "101%", "-1", "1.5", "50 %", "50%,60%", "1,2", "%", "10e3"])("refuses %j", (text) => {
    expect(() => parseMaxDelete(text, "--max-delete")).toThrow(UsageError);
    expect(() => parseMaxDelete(text, "--max-delete")).toThrow(
      `--max-delete "${text}" is not a number of tags (100), a percentage from 0% to 100% (50%), or both (200,50%).`,
    );
  });
});

describe("checkMaxDelete", () => {
  const repo = (name: string, tagsDeleted: number, tagsTotal: number): TagDeletionCount => ({ name, tagsDeleted, tagsTotal });

  it.each<[string, MaxDelete | undefined, TagDeletionCount[], boolean]>([
    ["50%: exactly half passes", { percent: 50 }, [repo("g/a", 5, 10)], false],
    ["50%: more than half is refused", { percent: 50 }, [repo("g/a", 6, 10)], true],
    ["50%: a repository deleting nothing passes", { percent: 50 }, [repo("g/a", 0, 0), repo("g/b", 0, 3)], false],
    ["100% lifts the limit", { percent: 100 }, [repo("g/a", 10, 10)], false],
    ["0% refuses any tag deletion", { percent: 0 }, [repo("g/a", 1, 1000)], true],
    ["count: at the limit passes", { count: 100 }, [repo("g/a", 60, 100), repo("g/b", 40, 100)], false],
    ["count: over the limit is refused", { count: 100 }, [repo("g/a", 60, 100), repo("g/b", 41, 100)], true],
    ["count alone has no percentage", { count: 100 }, [repo("g/a", 10, 10)], false],
    ["no limit", undefined, [repo("g/a", 10, 10)], false],
    ["both: the count", { count: 5, percent: 100 }, [repo("g/a", 6, 6)], true],
    ["both: the percentage", { count: 500, percent: 50 }, [repo("g/a", 6, 10)], true],
  ])("%s", (_title, maxDelete, counts, refused) => {
    expect(checkMaxDelete(maxDelete, counts) !== undefined).toBe(refused);
  });

  it("names the repository, its counts and how to lift the limit", () => {
    expect(checkMaxDelete(DEFAULT_MAX_DELETE, [repo("g/ok", 1, 10), repo("g/app", 8, 10)])).toBe(
      "Refusing to delete 8 of 10 tags (80%) in repository g/app: more than the --max-delete limit of 50% of a " +
        "repository's tags. Check the rules with a dry run (-n); if the plan is right, pass --max-delete 100% to lift the limit.",
    );
  });

  it("names the worst repository first and counts the others", () => {
    const message = checkMaxDelete({ percent: 30 }, [repo("g/b", 1, 3), repo("g/a", 9, 10), repo("g/c", 2, 3)]);
    expect(message).toMatch(/^Refusing to delete 9 of 10 tags \(90%\) in repository g\/a \(and in 2 more repositories\): /);
    expect(checkMaxDelete({ percent: 30 }, [repo("g/b", 1, 3), repo("g/a", 9, 10)])).toContain("(and in 1 more repository)");
    expect(checkMaxDelete({ percent: 30 }, [repo("g/b", 1, 3)])).toContain("1 of 3 tags (33.3%) in repository g/b:");
  });

  it("names the total for the count", () => {
    expect(checkMaxDelete({ count: 100 }, [repo("g/a", 60, 100), repo("g/b", 41, 100)])).toBe(
      "Refusing to delete 101 tags in total: more than --max-delete 100 allows. " +
        "Check the rules with a dry run (-n); if the plan is right, pass a larger --max-delete.",
    );
  });
});
