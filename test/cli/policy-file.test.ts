import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicyFile, readPolicyFile } from "../../src/cli/policy-file.js";
import { UsageError } from "../../src/core/errors.js";
import type { RetentionEntry } from "../../src/core/policy.js";

const D = 86_400_000;

function lines(...text: string[]): string {
  return `${text.join("\n")}\n`;
}

/** The UsageError parsePolicyFile throws for `text`. */
function refusal(text: string): UsageError {
  try {
    parsePolicyFile("policy.yml", text);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return error as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parsePolicyFile: good files", () => {
  it("reads the documented example", () => {
    const text = lines(
      "# first match wins",
      "rules:",
      "  - repositories: [group/app, group/app/**]",
      "    keep_n: 10",
      '    name_regex_delete: "main-.*"',
      "  - repositories: group/**",
      "    older_than: 14d",
      '    name_regex: "mr-.*"',
      '    name_regex_keep: "mr-1"',
      "  - repositories: [legacy/**]",
      "    retention: false",
    );
    expect(parsePolicyFile("policy.yml", text)).toEqual<RetentionEntry[]>([
      { repositories: ["group/app", "group/app/**"], rules: { nameRegexDelete: "main-.*", keepN: 10 }, line: 3 },
      { repositories: ["group/**"], rules: { nameRegexDelete: "mr-.*", nameRegexKeep: "mr-1", olderThanMs: 14 * D }, line: 6 },
      { repositories: ["legacy/**"], rules: false, line: 10 },
    ]);
  });

  it.each<[string, string, RetentionEntry[]]>([
    [
      "name_regex_delete defaults to .* once a rule is given",
      lines("rules:", "  - repositories: [a/**]", "    keep_n: 3"),
      [{ repositories: ["a/**"], rules: { nameRegexDelete: ".*", keepN: 3 }, line: 2 }],
    ],
    [
      "block lists, and null fields count as absent (as in GitLab's API)",
      lines("rules:", "  - repositories:", "      - a/*", "      - b/*", "    keep_n:", "    older_than: 1h30m"),
      [{ repositories: ["a/*", "b/*"], rules: { nameRegexDelete: ".*", olderThanMs: 90 * 60_000 }, line: 2 }],
    ],
    [
      "older_than: 0 as a number",
      lines("rules:", "  - repositories: [a]", "    older_than: 0"),
      [{ repositories: ["a"], rules: { nameRegexDelete: ".*", olderThanMs: 0 }, line: 2 }],
    ],
    [
      "a name_regex_keep alone",
      lines("rules:", "  - repositories: [a]", '    name_regex_keep: "v.+"'),
      [{ repositories: ["a"], rules: { nameRegexDelete: ".*", nameRegexKeep: "v.+" }, line: 2 }],
    ],
    [
      "flow style and an alias",
      lines("rules:", "  - {repositories: &apps [x/app, y/app], keep_n: 1}", "  - {repositories: *apps, retention: false}"),
      [
        { repositories: ["x/app", "y/app"], rules: { nameRegexDelete: ".*", keepN: 1 }, line: 2 },
        { repositories: ["x/app", "y/app"], rules: false, line: 3 },
      ],
    ],
    ["an empty list of rules", lines("rules: []"), []],
  ])("%s", (_title, text, expected) => {
    expect(parsePolicyFile("policy.yml", text)).toEqual(expected);
  });
});

describe("parsePolicyFile: malformed files name the file and the line", () => {
  it.each<[string, string, string]>([
    ["bad indentation", lines("rules:", "  - repositories: [a]", "     keep_n: 1", "   older_than: 1d"), " line 3: is not valid YAML (All mapping items must start at the same column)"],
    ["a duplicate key", lines("rules:", "  - repositories: [a]", "    keep_n: 1", "    keep_n: 2"), " line 4: is not valid YAML (Map keys must be unique)"],
    ["tabs", lines("rules:", "\t- repositories: [a]"), " line 2: is not valid YAML (Tabs are not allowed as indentation)"],
    ["two documents", lines("rules: []", "---", "rules: []"), " line 2: is not valid YAML (Source contains multiple documents)"],
    ["an unquoted * value", lines("rules:", "  - repositories: *-rc", "    keep_n: 1"), " line 2: *-rc names no anchor (quote a value that starts with *)"],
    ["an empty file", "", ': must be a mapping with a "rules:" list'],
    ["a list at the top", lines("- repositories: [a]"), ' line 1: must be a mapping with a "rules:" list'],
    ["rules not a list", lines("rules:", "  repositories: [a]"), ' line 2: needs "rules:" to be a list of entries'],
    ["an entry that is not a mapping", lines("rules:", "  - a/**"), " line 2: an entry of rules must be a mapping with repositories: and rule fields"],
  ])("%s", (_title, text, message) => {
    expect(refusal(text).message).toBe(`Policy file policy.yml${message}.`);
  });

  it.each<[string, string, string]>([
    ["an unknown key in an entry", lines("rules:", "  - repositories: [a]", "    keep_n: 1", "    keepn: 2"), 'line 4: has an unknown key "keepn" (known: repositories, keep_n, older_than, name_regex_delete, name_regex, name_regex_keep, retention)'],
    ["an unknown top-level key", lines("version: 1", "rules: []"), 'line 1: has an unknown key "version" (the only top-level key is "rules")'],
    ["GitLab's cadence is not a rule here", lines("rules:", "  - repositories: [a]", "    cadence: 7d"), 'line 3: has an unknown key "cadence"'],
  ])("%s", (_title, text, message) => {
    expect(refusal(text).message).toContain(`Policy file policy.yml ${message}`);
  });

  it.each<[string, string, string]>([
    ["a lookahead", lines("rules:", "  - repositories: [a]", '    name_regex_keep: "(?!v1).*"'), 'line 3: name_regex_keep: "(?!v1).*" is not a regular expression GitLab accepts: RE2 does not support lookahead or lookbehind'],
    ["an unterminated group", lines("rules:", "  - repositories: [a]", "    keep_n: 2", '    name_regex: "(main"'), 'line 4: name_regex: "(main" is not a regular expression GitLab accepts: unterminated group'],
    ["a backreference", lines("rules:", "  - repositories: [a]", '    name_regex_delete: "(a)\\\\1"'), 'line 3: name_regex_delete: "(a)\\1" is not a regular expression GitLab accepts: RE2 does not support backreferences'],
    ["a regex that is not a string", lines("rules:", "  - repositories: [a]", "    name_regex_delete: 12"), "line 3: name_regex_delete: must be a regular expression in quotes"],
  ])("a bad regex: %s", (_title, text, message) => {
    expect(refusal(text).message).toBe(`Policy file policy.yml ${message}.`);
  });

  it.each<[string, string, string]>([
    ["a bare number", lines("rules:", "  - repositories: [a]", "    older_than: 14"), "line 3"],
    ["GitLab's month unit", lines("rules:", "  - repositories: [a]", "    keep_n: 5", "    older_than: 1month"), "line 4"],
    ["units out of order", lines("rules:", "  - repositories: [a]", "    older_than: 30m1h"), "line 3"],
    ["a boolean", lines("rules:", "  - repositories: [a]", "    older_than: true"), "line 3"],
  ])("a bad duration: %s", (_title, text, line) => {
    expect(refusal(text).message).toBe(`Policy file policy.yml ${line}: older_than: must be a duration such as 14d, 24h or 1h30m.`);
  });

  it.each<[string, string, string]>([
    ["keep_n negative", lines("rules:", "  - repositories: [a]", "    keep_n: -1"), "line 3: keep_n: must be a whole number of tags (0 or more)"],
    ["keep_n a fraction", lines("rules:", "  - repositories: [a]", "    keep_n: 2.5"), "line 3: keep_n: must be a whole number of tags (0 or more)"],
    ["keep_n a string", lines("rules:", "  - repositories: [a]", '    keep_n: "10"'), "line 3: keep_n: must be a whole number of tags (0 or more)"],
    ["retention: true", lines("rules:", "  - repositories: [a]", "    retention: true"), "line 3: retention: may only be false"],
    ["retention: no (YAML 1.2 reads a string)", lines("rules:", "  - repositories: [a]", "    retention: no"), "line 3: retention: may only be false"],
    ["retention: false with rules", lines("rules:", "  - repositories: [a]", "    retention: false", "    keep_n: 1"), "line 2: an entry with retention: false takes no rule fields"],
    ["both regex names", lines("rules:", "  - repositories: [a]", '    name_regex_delete: "a"', '    name_regex: "b"'), "line 4: give name_regex_delete or its alias name_regex, not both"],
    ["no rule", lines("rules:", "  - repositories: [a]"), "line 2: an entry needs a rule: keep_n, older_than, name_regex_delete, name_regex_keep, or retention: false"],
    ["only null rules", lines("rules:", "  - repositories: [a]", "    keep_n: null"), "line 2: an entry needs a rule: keep_n, older_than, name_regex_delete, name_regex_keep, or retention: false"],
    ["no repositories", lines("rules:", "  - keep_n: 1"), "line 2: an entry needs repositories: (glob patterns of repository paths)"],
    ["empty repositories", lines("rules:", "  - repositories: []", "    keep_n: 1"), "line 2: repositories: is empty"],
    ["a repository that is not a string", lines("rules:", "  - repositories:", "      - a/**", "      - 12", "    keep_n: 1"), "line 4: repositories: must hold glob patterns (strings)"],
    ["a repository glob with a leading /", lines("rules:", "  - repositories: [/a/**]", "    keep_n: 1"), 'line 2: repository pattern "/a/**": repository paths have no leading /'],
  ])("a bad value: %s", (_title, text, message) => {
    expect(refusal(text).message).toBe(`Policy file policy.yml ${message}.`);
  });
});

describe("readPolicyFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "policy-file-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a file from disk", async () => {
    const path = join(dir, "good.yml");
    await writeFile(path, lines("rules:", "  - repositories: [a/**]", "    keep_n: 2"));
    expect(await readPolicyFile(path)).toEqual([{ repositories: ["a/**"], rules: { nameRegexDelete: ".*", keepN: 2 }, line: 2 }]);
  });

  it("names the file that is missing", async () => {
    const path = join(dir, "missing.yml");
    await expect(readPolicyFile(path)).rejects.toThrow(new UsageError(`Cannot read the policy file ${path}: there is no such file.`));
  });

  it("names a directory given as the file", async () => {
    await expect(readPolicyFile(dir)).rejects.toThrow(`Cannot read the policy file ${dir}: it is a directory.`);
  });

  it("names the file in a parse error", async () => {
    const path = join(dir, "bad.yml");
    await writeFile(path, lines("rules:", "  - repositories: [a]", "    keep_n: x"));
    await expect(readPolicyFile(path)).rejects.toThrow(`Policy file ${path} line 3: keep_n: must be a whole number of tags (0 or more).`);
  });
});
