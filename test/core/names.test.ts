import { describe, expect, it } from "vitest";
import { digestAlgorithm, digestFromParts, digestHex, parseDigest, shortDigest } from "../../src/core/digest.js";
import {
  MAX_NAME_LENGTH,
  type RepositoryName,
  candidateProjectPaths,
  explainInvalidName,
  parseRepositoryName,
} from "../../src/core/repository-name.js";

const hex64 = "0123456789abcdef".repeat(4);
const hex128 = hex64.repeat(2);

describe("parseDigest", () => {
  it.each([`sha256:${hex64}`, `sha512:${hex128}`])("accepts %s", (text) => {
    expect(parseDigest(text)).toBe(text);
  });

  it.each([
    ["empty", ""],
    ["no algorithm", hex64],
    ["uppercase hex", `sha256:${hex64.toUpperCase()}`],
    ["uppercase algorithm", `SHA256:${hex64}`],
    ["too short", `sha256:${hex64.slice(1)}`],
    ["too long", `sha256:${hex64}0`],
    ["sha512 length for sha256", `sha256:${hex128}`],
    ["unsupported algorithm", `md5:${hex64}`],
    ["trailing newline (a link file written by hand)", `sha256:${hex64}\n`],
    ["leading space", ` sha256:${hex64}`],
    ["non-hex", `sha256:${"g".repeat(64)}`],
    ["two colons", `sha256::${hex64}`],
    ["sha256 length for sha512", `sha512:${hex64}`],
    ["a character next to the hex ranges", `sha256:${hex64.slice(1)}g`],
    ["a non-ASCII character", `sha256:${hex64.slice(1)}é`],
    ["a character past the hex table", `sha256:${hex64.slice(1)}\u0130`],
  ])("refuses %s", (_why, text) => {
    expect(parseDigest(text)).toBeUndefined();
  });

  it("builds from directory parts and splits back", () => {
    const digest = digestFromParts("sha256", hex64)!;
    expect(digest).toBe(`sha256:${hex64}`);
    expect(digestAlgorithm(digest)).toBe("sha256");
    expect(digestHex(digest)).toBe(hex64);
    expect(shortDigest(digest)).toBe("sha256:0123456789ab");
    expect(digestFromParts("sha256", "data")).toBeUndefined();
    expect(digestFromParts("..", hex64)).toBeUndefined();
  });
});

describe("parseRepositoryName", () => {
  it.each([
    "app",
    "group/project",
    "group/sub/project/image",
    "a.b",
    "a_b",
    "a__b",
    "a-b",
    "a---b",
    "0/1/2",
    "my-group/my.project/img_1",
    "a".repeat(MAX_NAME_LENGTH),
  ])("accepts %s", (text) => {
    expect(parseRepositoryName(text)).toBe(text);
    expect(explainInvalidName(text)).toBeUndefined();
  });

  it.each([
    ["empty", ""],
    ["uppercase", "Group/app"],
    ["dot dot", "group/../app"],
    ["dot dot inside a component", "a..b"],
    ["a single dot", "group/./app"],
    ["leading slash", "/group/app"],
    ["trailing slash", "group/app/"],
    ["double slash", "group//app"],
    ["leading dash", "-app"],
    ["trailing dash", "app-"],
    ["leading dot", ".app"],
    ["leading underscore (storage's _manifests, _layers)", "group/_manifests"],
    ["trailing underscore", "app_"],
    ["three underscores", "a___b"],
    ["mixed separators", "a-_b"],
    ["dot then dash", "a.-b"],
    ["space", "my app"],
    ["colon (a tag, not a name)", "app:latest"],
    ["256 characters", "a".repeat(MAX_NAME_LENGTH + 1)],
  ])("refuses %s", (_why, text) => {
    expect(parseRepositoryName(text)).toBeUndefined();
    expect(explainInvalidName(text)).toEqual(expect.any(String));
  });

  it("explains what is wrong", () => {
    expect(explainInvalidName("")).toBe("the name is empty");
    expect(explainInvalidName("a".repeat(256))).toMatch(/longer than 255 characters/);
    expect(explainInvalidName("group/Bad/app")).toMatch(/"Bad"/);
    expect(explainInvalidName("group//app")).toMatch(/path element ""/);
  });

  it("counts the whole name against the limit, slashes included", () => {
    const name = `${"a".repeat(127)}/${"b".repeat(127)}`;
    expect(name).toHaveLength(255);
    expect(parseRepositoryName(name)).toBe(name);
    expect(parseRepositoryName(`${name}c`)).toBeUndefined();
  });
});

describe("candidateProjectPaths", () => {
  const paths = (text: string) => candidateProjectPaths(parseRepositoryName(text) as RepositoryName);

  // GitLab (ContainerRegistry::Path#nodes, #repository_project): prefixes of 2 elements or more,
  // longest first, at most 3. A project always sits in a namespace, so a 1-element prefix is never
  // one, and asking the API for "123" would find the project with id 123 instead.
  it.each([
    ["app", []],
    ["123", []],
    ["group/app", ["group/app"]],
    ["group/sub/project/image", ["group/sub/project/image", "group/sub/project", "group/sub"]],
    ["a/b/c/d/e", ["a/b/c/d/e", "a/b/c/d", "a/b/c"]],
  ])("%s -> %j", (text, expected) => {
    expect(paths(text)).toEqual(expected);
  });
});
