/**
 * createProjectRules against the GitLab stand-in, through the real GitLabRestApi: each project's
 * cleanup policy as retention rules, its protected tag rules as patterns, repositories mapped to
 * their projects as GitLab does (GITLAB.md §3), and each project read once per run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "../src/core/digest.js";
import { UsageError } from "../src/core/errors.js";
import { parseRepositoryName, type RepositoryName } from "../src/core/repository-name.js";
import { decideTags, type RetentionRules, type TagFact } from "../src/core/retention.js";
import { GitLabRestApi } from "../src/gitlab/api.js";
import type { GitLabApi } from "../src/gitlab/ports.js";
import { createProjectRules, type ProjectRulesOptions } from "../src/project-rules.js";
import { createDispatcher } from "../src/registry/http.js";
import { startGitlabStandin, type GitlabStandin } from "./helpers/gitlab-standin.js";
import { createPki } from "./helpers/pki.js";

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 2, 20);
const MEMBERS = { maint: "maintainer", dev: "developer" } as const;
const BOTH: ProjectRulesOptions = { policies: true, protection: true };

let dir: string;
let gitlab: GitlabStandin;
let dispatcher: Dispatcher;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "project-rules-"));
  dispatcher = createDispatcher();
  const enabled = (policy: object) => ({ members: MEMBERS, expirationPolicy: { enabled: true, ...policy } });
  gitlab = await startGitlabStandin({
    pki: await createPki(dir),
    users: [
      { username: "root", password: "root-password", admin: true, tokens: [{ token: "root-api", scopes: ["api"] }] },
      { username: "maint", password: "maint-password", tokens: [{ token: "maint-api", scopes: ["api"] }] },
      { username: "dev", password: "dev-password", tokens: [{ token: "dev-api", scopes: ["api"] }] },
    ],
    projects: [
      {
        path: "group/nightly", ...enabled({ keepN: 5, olderThan: "14d", nameRegex: "nightly-.*", nameRegexKeep: "nightly-keep" }),
        tagProtection: [
          { tagNamePattern: "v.*", minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "owner" },
          { tagNamePattern: "release-.*", immutable: true },
          { tagNamePattern: "^stable$", minimumAccessLevelForPush: "admin", minimumAccessLevelForDelete: "admin" },
        ],
      },
      { path: "group/sixty", ...enabled({ keepN: null, olderThan: "60d", nameRegex: ".*", nameRegexKeep: "" }) },
      { path: "group/keep-only", ...enabled({ keepN: 10, olderThan: null, nameRegex: "build-.*" }) },
      { path: "group/no-regex", ...enabled({ keepN: null, olderThan: "7d", nameRegex: null }) },
      { path: "group/disabled", members: MEMBERS, expirationPolicy: { enabled: false, nameRegex: "build-(" } },
      { path: "group/ancient", members: MEMBERS, expirationPolicy: null },
      { path: "group/bad-delete", ...enabled({ nameRegex: "build-(" }) },
      { path: "group/bad-keep", ...enabled({ nameRegex: ".*", nameRegexKeep: "\\pL+" }) },
      { path: "group/weeks", ...enabled({ olderThan: "2 weeks" }) },
      {
        path: "group/odd-protection", members: MEMBERS,
        tagProtection: [{ tagNamePattern: "\\pL", minimumAccessLevelForPush: "maintainer", minimumAccessLevelForDelete: "maintainer" }],
      },
      { path: "team/tools", ...enabled({ keepN: 1 }) },
      { path: "team/tools/cli", ...enabled({ keepN: 3 }) },
      { path: "deep/a", ...enabled({ keepN: 1 }) },
    ],
  });
});

afterAll(async () => {
  await gitlab?.close();
  await dispatcher?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => gitlab.resetStats());

const api = (token = "root-api") => new GitLabRestApi({ gitlabUrl: new URL(gitlab.url), token, dispatcher });
const repo = (text: string): RepositoryName => parseRepositoryName(text) ?? expect.fail(`bad name ${text}`);
const lookup = (options = BOTH, token?: string) => createProjectRules(api(token), options);

function tag(name: string, ageDays: number): TagFact {
  return { tag: name, digest: `sha256:${"0".repeat(64)}` as Digest, pushedAt: NOW - ageDays * DAY_MS };
}

describe("cleanup policies (policies)", () => {
  it.each<[string, RetentionRules | false | undefined]>([
    ["group/nightly", { keepN: 5, olderThanMs: 14 * DAY_MS, nameRegexDelete: "nightly-.*", nameRegexKeep: "nightly-keep" }],
    ["group/sixty", { olderThanMs: 60 * DAY_MS, nameRegexDelete: ".*" }],
    ["group/keep-only", { keepN: 10, nameRegexDelete: "build-.*" }],
    ["group/no-regex", { olderThanMs: 7 * DAY_MS, nameRegexDelete: "" }],
    ["group/disabled", false],
    ["group/ancient", undefined],
  ])("converts %s's policy", async (project, rules) => {
    const result = await lookup({ policies: true, protection: false })(repo(project));
    expect(result).toEqual({ project, rules, protectedTags: [], warnings: [] });
  });

  it("keeps GitLab's empty name_regex as matching no tag (\\A\\z), so nothing is deleted", async () => {
    const { rules } = await lookup()(repo("group/no-regex"));
    const decisions = decideTags([tag("build-1", 30), tag("nightly-2", 30), tag("x", 30)], rules as RetentionRules, { now: NOW });
    expect(decisions.deleted).toEqual([]);
    expect(decisions.kept.map((kept) => kept.reason.kind)).toEqual(["not-matched", "not-matched", "not-matched"]);
  });

  it.each([
    ["group/bad-delete", 'Project group/bad-delete\'s cleanup policy name_regex_delete: "build-(" is not a regular expression GitLab accepts'],
    ["group/bad-keep", 'Project group/bad-keep\'s cleanup policy name_regex_keep: "\\pL+" is not a regular expression GitLab accepts'],
    ["group/weeks", 'Project group/weeks\'s cleanup policy has older_than "2 weeks", which this tool cannot read as a duration'],
  ])("gives %s no retention and a warning naming the project and field, never a crash", async (project, start) => {
    const rules = lookup();
    const [top, nested] = await Promise.all([rules(repo(project)), rules(repo(`${project}/image`))]);
    expect(top).toMatchObject({ project, rules: false });
    expect(top.warnings).toHaveLength(1);
    expect(top.warnings[0]).toMatch(new RegExp(`^${start.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}.* Tag retention skips the repositories of project ${project}: their tags are kept\\.$`));
    // The same warning for each repository of the project, so the caller can print it once.
    expect(nested).toEqual(top);
  });

  it("warns about nothing in a disabled policy: GitLab never runs it", async () => {
    expect(await lookup()(repo("group/disabled/image"))).toMatchObject({ rules: false, warnings: [] });
  });

  it("lets a password's UsageError through (exit 2: the REST API takes tokens only)", async () => {
    await expect(lookup(BOTH, "maint-password")(repo("group/nightly"))).rejects.toBeInstanceOf(UsageError);
  });
});

describe("repositories and their projects", () => {
  it("maps nested repositories to the longest of the 3 longest prefixes that is a project", async () => {
    const rules = lookup({ policies: true, protection: false });
    const names = ["team/tools/cli/image", "team/tools/cli", "team/tools/web", "team/tools/web/sub", "team/tools"];
    const results = await Promise.all(names.map((name) => rules(repo(name))));
    expect(results.map((result) => [result.project, (result.rules as RetentionRules).keepN])).toEqual([
      ["team/tools/cli", 3], ["team/tools/cli", 3], ["team/tools", 1], ["team/tools", 1], ["team/tools", 1],
    ]);
  });

  it("treats a repository nested more than 3 levels below its project as an orphan, as GitLab does", async () => {
    expect(await lookup()(repo("deep/a/b/c/image"))).toEqual({ protectedTags: [], warnings: [] });
    expect(gitlab.apiProjects("project")).not.toContain("deep/a");
  });

  it("asks nothing beyond the lookup for an orphan, and nothing at all for a one-element name", async () => {
    const result = await lookup()(repo("gone/project/image"));
    expect(result).toEqual({ protectedTags: [], warnings: [] });
    expect(result.rules).toBeUndefined();
    expect(gitlab.apiLog.every((record) => record.endpoint === "project" && record.status === 404)).toBe(true);
    gitlab.resetStats();
    expect(await lookup()(repo("lonely"))).toEqual({ protectedTags: [], warnings: [] });
    expect(gitlab.apiLog).toEqual([]);
  });

  it("sends no request at all when neither policies nor protection is asked for", async () => {
    expect(await lookup({ policies: false, protection: false })(repo("group/nightly/app"))).toEqual({ protectedTags: [], warnings: [] });
    expect(gitlab.apiLog).toEqual([]);
  });

  it("reads each project once for many repositories asked at once, with at most 4 requests in flight", async () => {
    const counted = countInFlight(api());
    const rules = createProjectRules(counted.api, BOTH);
    const names = ["group/nightly", ...Array.from({ length: 12 }, (_, i) => `group/nightly/image-${i}`)];
    const results = await Promise.all([...names, ...names].map((name) => rules(repo(name))));
    expect(new Set(results.map((result) => JSON.stringify(result.rules))).size).toBe(1);
    const asked = gitlab.apiProjects("project");
    expect(asked.filter((path) => path === "group/nightly")).toHaveLength(1);
    // A path that is not a project: the policy read's 404, then projectExists's (no policy record?).
    for (const name of names.slice(1)) expect(asked.filter((path) => path === name)).toHaveLength(2);
    expect(gitlab.apiProjects("tag-rules")).toEqual(["group/nightly"]);
    expect(counted.max()).toBeGreaterThan(1);
    expect(counted.max()).toBeLessThanOrEqual(4);
  });

  it("looks projects up with projectExists alone when only protection is asked for", async () => {
    const result = await lookup({ policies: false, protection: true })(repo("group/nightly/app"));
    expect(result).toMatchObject({ project: "group/nightly", rules: undefined });
    expect(gitlab.apiProjects("project")).toEqual(["group/nightly/app", "group/nightly"]);
    expect(gitlab.apiProjects("tag-rules")).toEqual(["group/nightly"]);
  });
});

describe("tag protection (protection)", () => {
  it("gives the protection rules as patterns, whatever role they name; immutable rules are not listed", async () => {
    const { protectedTags } = await lookup({ policies: false, protection: true })(repo("group/nightly/app"));
    expect(protectedTags).toEqual([
      { pattern: "v.*", source: "GitLab tag protection rule, delete: owner" },
      { pattern: "^stable$", source: "GitLab tag protection rule, delete: admin" },
    ]);
  });

  it("keeps protected tags from retention for an administrator too, though GitLab would let one delete them", async () => {
    const { protectedTags } = await lookup(BOTH, "root-api")(repo("group/nightly"));
    const tags = [tag("v1.0", 30), tag("stable", 30), tag("unstable", 30), tag("release-1", 30)];
    const { kept, deleted } = decideTags(tags, { nameRegexDelete: ".*" }, { now: NOW, protectedPatterns: protectedTags });
    expect(kept.map((k) => [k.tag, k.reason.kind])).toEqual([["stable", "protected"], ["v1.0", "protected"]]);
    // release-1 is immutable: only the registry token's tag_immutable_patterns say so.
    expect(deleted.map((d) => d.tag)).toEqual(["release-1", "unstable"]);
  });

  it("gives no patterns and no warning when the token may not list the rules (below Maintainer)", async () => {
    expect(await lookup(BOTH, "dev-api")(repo("group/nightly/app"))).toMatchObject({ project: "group/nightly", protectedTags: [], warnings: [] });
    expect(gitlab.apiLog.filter((record) => record.endpoint === "tag-rules").map((record) => record.status)).toEqual([403]);
  });

  it("keeps a pattern it cannot match (it then protects every tag), with a warning", async () => {
    const result = await lookup(BOTH, "maint-api")(repo("group/odd-protection"));
    expect(result.protectedTags).toEqual([{ pattern: "\\pL", source: "GitLab tag protection rule, delete: maintainer" }]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^Project group\/odd-protection's tag protection rule "\\pL" cannot be matched here \(.+\): tag retention keeps every tag of its repositories\.$/),
    ]);
    const { deleted } = decideTags([tag("a", 30)], { nameRegexDelete: ".*" }, { now: NOW, protectedPatterns: result.protectedTags });
    expect(deleted).toEqual([]);
  });
});

/** Wraps an api to measure how many of its calls are in flight at once. */
function countInFlight(inner: GitLabApi): { api: GitLabApi; max: () => number } {
  let current = 0;
  let max = 0;
  const wrap = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    current++;
    max = Math.max(max, current);
    try {
      return await call(...args);
    } finally {
      current--;
    }
  };
  const counted: GitLabApi = {
    currentUser: wrap(() => inner.currentUser()),
    projectExists: wrap((path: string) => inner.projectExists(path)),
    expirationPolicy: wrap((path: string) => inner.expirationPolicy(path)),
    tagProtectionRules: wrap((path: string) => inner.tagProtectionRules(path)),
  };
  return { api: counted, max: () => max };
}
