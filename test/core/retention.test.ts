import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import { UsageError } from "../../src/core/errors.js";
import {
  compileTagRegex,
  decideTags,
  describeTagKeepReason,
  naturalCompare,
  type ProtectedPattern,
  type RetentionRules,
  type TagFact,
  type TagKeepReason,
} from "../../src/core/retention.js";

const H = 3_600_000;
const D = 24 * H;
const NOW = Date.UTC(2026, 2, 20, 12, 0, 0);

function digest(n: number): Digest {
  return `sha256:${n.toString(16).padStart(64, "0")}` as Digest;
}

/** A tag pushed `ageMs` before NOW; each tag on its own digest unless one is given. */
function tag(name: string, ageMs: number, on?: number): TagFact {
  return { tag: name, digest: digest(on ?? hash(name)), pushedAt: NOW - ageMs };
}

function hash(text: string): number {
  return [...text].reduce((sum, c) => (sum * 31 + c.charCodeAt(0)) % 1_000_003, 7);
}

const ALL: RetentionRules = { nameRegexDelete: ".*" };

/** Runs decideTags and returns tag -> reason kind (kept) or "deleted". */
function outcome(tags: TagFact[], rules: RetentionRules, protectedPatterns?: ProtectedPattern[]): Record<string, string> {
  const { kept, deleted } = decideTags(tags, rules, { now: NOW, protectedPatterns });
  const result: Record<string, string> = {};
  for (const k of kept) result[k.tag] = k.reason.kind;
  for (const d of deleted) result[d.tag] = "deleted";
  return result;
}

describe("decideTags: one rule at a time", () => {
  it.each<[string, TagFact[], RetentionRules, Record<string, string>]>([
    [
      "name_regex_delete .* alone deletes every tag but latest",
      [tag("latest", 100 * D), tag("a", 1 * H), tag("b", 50 * D)],
      ALL,
      { latest: "latest", a: "deleted", b: "deleted" },
    ],
    [
      "latest is kept even when nothing else would keep it",
      [tag("latest", 400 * D)],
      { nameRegexDelete: "lat.*", olderThanMs: 0 },
      { latest: "latest" },
    ],
    [
      "names not matching name_regex_delete are kept",
      [tag("mr-1", 30 * D), tag("main-1", 30 * D)],
      { nameRegexDelete: "mr-.*" },
      { "mr-1": "deleted", "main-1": "not-matched" },
    ],
    [
      "the delete regex must match the whole name",
      [tag("mr", 30 * D), tag("mr-1", 30 * D), tag("xmr", 30 * D)],
      { nameRegexDelete: "mr" },
      { mr: "deleted", "mr-1": "not-matched", xmr: "not-matched" },
    ],
    [
      "alternation is anchored as a whole, as in GitLab's \\A(?:…)\\z",
      [tag("main", 30 * D), tag("dev", 30 * D), tag("main-1", 30 * D), tag("a-dev", 30 * D)],
      { nameRegexDelete: "main|dev" },
      { main: "deleted", dev: "deleted", "main-1": "not-matched", "a-dev": "not-matched" },
    ],
    [
      "name_regex_keep wins over name_regex_delete, whole name only",
      [tag("v1", 30 * D), tag("v1-rc", 30 * D), tag("x", 30 * D)],
      { nameRegexDelete: ".*", nameRegexKeep: "v\\d+" },
      { v1: "name-regex-keep", "v1-rc": "deleted", x: "deleted" },
    ],
    [
      "an empty name_regex_keep keeps nothing",
      [tag("a", 30 * D)],
      { nameRegexDelete: ".*", nameRegexKeep: "" },
      { a: "deleted" },
    ],
    [
      "an empty name_regex_delete deletes nothing",
      [tag("a", 30 * D)],
      { nameRegexDelete: "" },
      { a: "not-matched" },
    ],
    [
      "keep_n keeps the n most recently pushed",
      [tag("t1", 5 * D), tag("t2", 4 * D), tag("t3", 3 * D), tag("t4", 2 * D), tag("t5", 1 * D)],
      { ...ALL, keepN: 2 },
      { t5: "keep-n", t4: "keep-n", t3: "deleted", t2: "deleted", t1: "deleted" },
    ],
    [
      "keep_n 0 keeps none by count",
      [tag("a", 1 * D)],
      { ...ALL, keepN: 0 },
      { a: "deleted" },
    ],
    [
      "keep_n larger than the tags keeps them all",
      [tag("a", 1 * D), tag("b", 2 * D)],
      { ...ALL, keepN: 10 },
      { a: "keep-n", b: "keep-n" },
    ],
    [
      "older_than keeps what is newer and deletes what is older",
      [tag("old", 15 * D), tag("new", 13 * D)],
      { ...ALL, olderThanMs: 14 * D },
      { old: "deleted", new: "newer-than" },
    ],
  ])("%s", (_title, tags, rules, expected) => {
    expect(outcome(tags, rules)).toEqual(expected);
  });
});

describe("decideTags: keep_n counts only the tags the regexes would delete (GitLab's order)", () => {
  it.each<[string, TagFact[], RetentionRules, Record<string, string>]>([
    [
      "newer tags outside name_regex_delete take no keep_n slot",
      [tag("main-1", 1 * H), tag("main-2", 2 * H), tag("mr-1", 1 * D), tag("mr-2", 2 * D), tag("mr-3", 3 * D)],
      { nameRegexDelete: "mr-.*", keepN: 2 },
      { "main-1": "not-matched", "main-2": "not-matched", "mr-1": "keep-n", "mr-2": "keep-n", "mr-3": "deleted" },
    ],
    [
      "tags kept by name_regex_keep take no keep_n slot",
      [tag("v2", 1 * H), tag("b", 1 * D), tag("c", 2 * D)],
      { nameRegexDelete: ".*", nameRegexKeep: "v\\d+", keepN: 1 },
      { v2: "name-regex-keep", b: "keep-n", c: "deleted" },
    ],
    [
      "latest takes no keep_n slot",
      [tag("latest", 0), tag("b", 1 * D), tag("c", 2 * D)],
      { ...ALL, keepN: 1 },
      { latest: "latest", b: "keep-n", c: "deleted" },
    ],
    [
      "keep_n and older_than: deleted only beyond the n newest AND older",
      [tag("t1", 1 * D), tag("t2", 20 * D), tag("t3", 5 * D), tag("t4", 30 * D)],
      { ...ALL, keepN: 2, olderThanMs: 14 * D },
      { t1: "keep-n", t3: "keep-n", t2: "deleted", t4: "deleted" },
    ],
    [
      "keep_n and older_than: an old tag among the n newest is kept by keep_n",
      [tag("t1", 40 * D), tag("t2", 50 * D), tag("t3", 60 * D)],
      { ...ALL, keepN: 1, olderThanMs: 45 * D },
      { t1: "keep-n", t2: "deleted", t3: "deleted" },
    ],
    [
      "keep_n and older_than: a young tag beyond the n newest is kept by older_than",
      [tag("t1", 1 * D), tag("t2", 2 * D), tag("t3", 20 * D)],
      { ...ALL, keepN: 1, olderThanMs: 14 * D },
      { t1: "keep-n", t2: "newer-than", t3: "deleted" },
    ],
  ])("%s", (_title, tags, rules, expected) => {
    expect(outcome(tags, rules)).toEqual(expected);
  });
});

describe("decideTags: older_than boundaries", () => {
  const LIMIT = 14 * D;
  it.each<[string, number, string]>([
    ["one ms older than the limit", LIMIT + 1, "deleted"],
    ["exactly at the limit (GitLab: created_at < older_than.ago)", LIMIT, "newer-than"],
    ["one ms newer than the limit", LIMIT - 1, "newer-than"],
    ["pushed in the future (clock skew)", -5 * 60_000, "newer-than"],
  ])("%s -> %s", (_title, ageMs, expected) => {
    expect(outcome([tag("t", ageMs)], { ...ALL, olderThanMs: LIMIT })).toEqual({ t: expected });
  });

  it("older_than 0 deletes everything pushed before now", () => {
    expect(outcome([tag("a", 1), tag("b", 0)], { ...ALL, olderThanMs: 0 })).toEqual({ a: "deleted", b: "newer-than" });
  });

  it("reports the age and the limit of a tag kept as newer", () => {
    const { kept } = decideTags([tag("t", 3 * D)], { ...ALL, olderThanMs: LIMIT }, { now: NOW });
    expect(kept[0]!.reason).toEqual({ kind: "newer-than", ageMs: 3 * D, limitMs: LIMIT });
  });
});

describe("decideTags: ties in push time", () => {
  const SAME = 10 * D;
  it.each<[string, TagFact[], number, string[], string[]]>([
    ["numbers compare by value: build-11 is newest", [tag("build-9", SAME), tag("build-10", SAME), tag("build-11", SAME)], 1, ["build-11"], ["build-10", "build-9"]],
    ["dates compare in order", [tag("nightly-2026-03-01", SAME), tag("nightly-2026-03-02", SAME)], 1, ["nightly-2026-03-02"], ["nightly-2026-03-01"]],
    ["letters by code units, later is newer", [tag("a", SAME), tag("c", SAME), tag("b", SAME)], 2, ["b", "c"], ["a"]],
    ["a tie only decides among equal times", [tag("z", SAME + 1), tag("a", SAME), tag("b", SAME)], 1, ["b"], ["a", "z"]],
  ])("%s", (_title, tags, keepN, kept, deleted) => {
    for (const order of [tags, [...tags].reverse()]) {
      const result = decideTags(order, { ...ALL, keepN }, { now: NOW });
      expect(result.kept.map((t) => t.tag)).toEqual(kept);
      expect(result.deleted.map((t) => t.tag)).toEqual(deleted);
    }
  });

  it("ranks ties in keep-n reasons deterministically", () => {
    const { kept } = decideTags([tag("build-9", SAME), tag("build-10", SAME)], { ...ALL, keepN: 2 }, { now: NOW });
    expect(kept.map((t) => [t.tag, t.reason])).toEqual([
      ["build-10", { kind: "keep-n", rank: 1, n: 2 }],
      ["build-9", { kind: "keep-n", rank: 2, n: 2 }],
    ]);
  });
});

describe("decideTags: two tags on one digest", () => {
  it("deletes the expired tag by name and keeps the other on the same digest", () => {
    const result = decideTags([tag("old", 30 * D, 1), tag("new", 1 * D, 1)], { ...ALL, olderThanMs: 14 * D }, { now: NOW });
    expect(result.deleted).toEqual([{ ...tag("old", 30 * D, 1), reason: expect.any(String) }]);
    expect(result.kept.map((t) => [t.tag, t.digest, t.reason.kind])).toEqual([["new", digest(1), "newer-than"]]);
  });

  it("with keep_n, each tag on a shared digest takes its own slot (tags are ranked, not images)", () => {
    const tags = [tag("a", 1 * D, 1), tag("b", 2 * D, 1), tag("c", 3 * D, 2)];
    expect(outcome(tags, { ...ALL, keepN: 2 })).toEqual({ a: "keep-n", b: "keep-n", c: "deleted" });
  });
});

describe("decideTags: protected patterns", () => {
  const RULE: ProtectedPattern = { pattern: "v.+", source: "GitLab tag protection rule" };
  const IMMUTABLE: ProtectedPattern = { pattern: "^release-", source: "registry token tag_immutable_patterns" };

  it.each<[string, TagFact[], RetentionRules, ProtectedPattern[], Record<string, string>]>([
    ["a protected tag is never deleted", [tag("v1.0", 30 * D), tag("x", 30 * D)], ALL, [RULE], { "v1.0": "protected", x: "deleted" }],
    ["patterns are unanchored searches, as GitLab matches them", [tag("dev-1", 30 * D), tag("dev", 30 * D)], ALL, [RULE], { "dev-1": "protected", dev: "deleted" }],
    ["several patterns from several sources", [tag("release-1", 30 * D), tag("v2", 30 * D), tag("x", 30 * D)], ALL, [RULE, IMMUTABLE], { "release-1": "protected", v2: "protected", x: "deleted" }],
    ["a protected tag still takes a keep_n slot (protection comes last in GitLab)", [tag("v9", 1 * D), tag("x", 2 * D), tag("y", 3 * D)], { ...ALL, keepN: 1 }, [RULE], { v9: "keep-n", x: "deleted", y: "deleted" }],
    ["the first rule that keeps a tag is its reason", [tag("v9", 1 * D)], { ...ALL, olderThanMs: 14 * D }, [RULE], { v9: "newer-than" }],
  ])("%s", (_title, tags, rules, patterns, expected) => {
    expect(outcome(tags, rules, patterns)).toEqual(expected);
  });

  it("names the pattern and its source", () => {
    const { kept } = decideTags([tag("release-3", 30 * D)], ALL, { now: NOW, protectedPatterns: [RULE, IMMUTABLE] });
    expect(kept[0]!.reason).toEqual({ kind: "protected", pattern: "^release-", source: "registry token tag_immutable_patterns" });
  });

  it("a pattern that cannot be read protects every tag", () => {
    const unreadable = { pattern: "(?=v)", source: "GitLab tag protection rule" };
    const { kept, deleted } = decideTags([tag("a", 30 * D), tag("b", 30 * D)], ALL, { now: NOW, protectedPatterns: [unreadable] });
    expect(deleted).toEqual([]);
    expect(kept.map((t) => t.reason)).toEqual([
      { kind: "protected", pattern: "(?=v)", source: "GitLab tag protection rule", problem: "cannot be read (RE2 does not support lookahead or lookbehind)" },
      { kind: "protected", pattern: "(?=v)", source: "GitLab tag protection rule", problem: "cannot be read (RE2 does not support lookahead or lookbehind)" },
    ]);
  });
});

describe("decideTags: output", () => {
  it("sorts both lists by tag and keeps every tag exactly once", () => {
    const tags = [tag("m", 1 * D), tag("latest", 0), tag("b", 30 * D), tag("z", 40 * D), tag("a", 2 * D)];
    const { kept, deleted } = decideTags(tags, { ...ALL, keepN: 2 }, { now: NOW });
    expect(kept.map((t) => t.tag)).toEqual(["a", "latest", "m"]);
    expect(deleted.map((t) => t.tag)).toEqual(["b", "z"]);
  });

  it.each<[string, RetentionRules, string]>([
    ["every rule", { nameRegexDelete: "main-.*", keepN: 2, olderThanMs: 14 * D }, "pushed 2026-02-18, older than 14d, beyond the 2 newest (#3), matches main-.*"],
    ["regex only", { nameRegexDelete: "main-.*" }, "pushed 2026-02-18, matches main-.*"],
    ["with a keep regex", { nameRegexDelete: "main-.*", nameRegexKeep: "main-1" }, "pushed 2026-02-18, matches main-.* and not main-1"],
  ])("a deletion says why: %s", (_title, rules, reason) => {
    const tags = [tag("main-5", 1 * D), tag("main-4", 2 * D), tag("main-3", 30 * D)];
    const { deleted } = decideTags(tags, rules, { now: NOW });
    expect(deleted.find((t) => t.tag === "main-3")!.reason).toBe(reason);
  });

  it("passes no tags through as no decisions", () => {
    expect(decideTags([], ALL, { now: NOW })).toEqual({ kept: [], deleted: [] });
  });

  it("refuses a rule's invalid regex with UsageError", () => {
    expect(() => decideTags([tag("a", 1)], { nameRegexDelete: "(" }, { now: NOW })).toThrow(UsageError);
    expect(() => decideTags([tag("a", 1)], { nameRegexDelete: ".*", nameRegexKeep: "a(?=b)" }, { now: NOW })).toThrow(/name_regex_keep/);
  });
});

describe("describeTagKeepReason", () => {
  it.each<[TagKeepReason, string]>([
    [{ kind: "latest" }, "the tag latest is never deleted"],
    [{ kind: "name-regex-keep", pattern: "v.+" }, "matches name_regex_keep v.+"],
    [{ kind: "not-matched", pattern: "mr-.*" }, "does not match name_regex_delete mr-.*"],
    [{ kind: "keep-n", rank: 3, n: 10 }, "one of the 10 newest (#3)"],
    [{ kind: "newer-than", ageMs: 3 * D + 4 * H, limitMs: 14 * D }, "pushed 3d 4h ago, not older than 14d"],
    [{ kind: "protected", pattern: "v.+", source: "GitLab tag protection rule" }, "protected by v.+ (GitLab tag protection rule)"],
    [
      { kind: "protected", pattern: "(?=v)", source: "GitLab tag protection rule", problem: "cannot be read" },
      "protected: GitLab tag protection rule pattern (?=v) cannot be read, so every tag is kept",
    ],
  ])("%j", (reason, text) => {
    expect(describeTagKeepReason(reason)).toBe(text);
  });
});

describe("compileTagRegex: RE2 as GitLab reads it", () => {
  it.each<[string, string[], string[]]>([
    [".*", ["", "a", "build-1"], []],
    ["v\\d+\\.\\d+", ["v1.2", "v10.20"], ["v1x2", "v1.2-rc", "xv1.2"]],
    ["\\Av1\\z", ["v1"], ["v12", "av1"]],
    ["(?i)MAIN-.*", ["main-1", "MAIN-2"], ["dev"]],
    ["(?P<kind>mr|main)-\\d+", ["mr-1", "main-22"], ["mr-x"]],
    ["(?<kind>mr)-\\d+", ["mr-1"], ["main-1"]],
    ["[]a]+", ["a]", "]"], ["b"]],
    ["[^]a]+", ["b", "xyz"], ["a", "]"]],
    ["\\x41\\-b", ["A-b"], ["x41-b"]],
    ["a{,2}", ["a{,2}"], ["a", "aa"]],
    ["mr-.*?", ["mr-1"], ["m"]],
  ])("%s matches %j, not %j", (source, yes, no) => {
    const regex = compileTagRegex(source, "--name-regex-delete");
    for (const name of yes) expect(regex.test(name), name).toBe(true);
    for (const name of no) expect(regex.test(name), name).toBe(false);
  });

  it.each<[string, RegExp]>([
    ["(?=x)", /lookahead or lookbehind/],
    ["(?!x).*", /lookahead or lookbehind/],
    ["(?<=x)y", /lookahead or lookbehind/],
    ["(?<!x)y", /lookahead or lookbehind/],
    ["(a)\\1", /backreferences/],
    ["(?P<n>a)(?P=n)", /backreferences/],
    ["(?<n>a)\\k<n>", /backreferences/],
    ["\\pL+", /\\p is not supported/],
    ["\\p{Greek}", /\\p is not supported/],
    ["\\Q.*\\E", /\\Q is not supported/],
    ["\\x{41}", /\\x\{…\} is not supported/],
    ["\\xZ", /\\x needs two hex digits/],
    ["a\\Z", /\\Z is not supported/],
    ["\\0", /\\0 is not supported/],
    ["[[:alpha:]]+", /POSIX classes/],
    ["a(?i)b", /inline flags/],
    ["a(?i:b)", /inline flags/],
    ["(", /unterminated group/],
    ["a**", /nothing to repeat/],
    ["[z-a]", /range out of order/],
  ])("refuses %s", (source, why) => {
    let error: unknown;
    try {
      compileTagRegex(source, "--name-regex-keep");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toContain(`--name-regex-keep: "${source}" is not a regular expression GitLab accepts: `);
    expect((error as Error).message).toMatch(why);
  });
});

describe("naturalCompare", () => {
  it.each<[string, string, number]>([
    ["build-9", "build-10", -1],
    ["build-10", "build-9", 1],
    ["a", "b", -1],
    ["v1.2.10", "v1.2.9", 1],
    ["1", "01", 1], // equal values: code units decide, never 0 for different names
    ["a", "a1", -1],
    ["same", "same", 0],
  ])("%s vs %s", (a, b, sign) => {
    expect(Math.sign(naturalCompare(a, b))).toBe(sign);
  });
});
