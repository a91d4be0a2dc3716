import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import {
  DEFAULT_CONCURRENCY, DEFAULT_REGISTRY_CONFIG, DEFAULT_REGISTRY_PATH, parseServer, resolveOptions, type RawOptions,
} from "../../src/cli/options.js";

const FLAG = "-r/--registry-server";

function refusal(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return error as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseServer accepts", () => {
  it.each([
    ["gitlab.example.com", false, "https://gitlab.example.com/"],
    ["  gitlab.example.com  ", false, "https://gitlab.example.com/"],
    ["gitlab.example.com:5050", false, "https://gitlab.example.com:5050/"],
    ["127.0.0.1:5000", false, "https://127.0.0.1:5000/"],
    ["[::1]:5000", false, "https://[::1]:5000/"],
    ["https://gitlab.example.com/", false, "https://gitlab.example.com/"],
    ["HTTPS://Gitlab.Example.COM", false, "https://gitlab.example.com/"],
    ["https://example.com/gitlab/", false, "https://example.com/gitlab"],
    ["https://example.com:443", false, "https://example.com/"],
    ["http://127.0.0.1:5000", true, "http://127.0.0.1:5000/"],
    ["127.0.0.1:5000", true, "https://127.0.0.1:5000/"],
  ])("%j (insecure %s) as %s", (text, insecure, href) => {
    expect(parseServer(text, FLAG, insecure).href).toBe(href);
  });
});

describe("parseServer refuses", () => {
  it.each([
    [undefined, false, "Missing -r/--registry-server: give the server's hostname or URL, e.g. registry.example.com."],
    ["", false, "Missing -r/--registry-server"],
    ["   ", false, "Missing -r/--registry-server"],
    ["http://", true, 'Invalid -r/--registry-server "http://": expected a hostname or an http(s) URL'],
    ["https://", false, 'Invalid -r/--registry-server "https://": expected a hostname'],
    ["http:/registry.example.com", true, 'Invalid -r/--registry-server "http:/registry.example.com"'],
    ["https:registry.example.com", false, 'Invalid -r/--registry-server "https:registry.example.com"'],
    ["registry.example.com:99999", false, "expected a hostname or an http(s) URL"],
    ["registry.example.com:abc", false, "expected a hostname or an http(s) URL"],
    ["https://exa mple.com", false, "expected a hostname or an http(s) URL"],
    ["ht!tp://bad host", false, 'Invalid -r/--registry-server "ht!tp://bad host": expected a hostname or an http(s) URL'],
    ["ht!tp://badhost", false, "expected a hostname or an http(s) URL"],
    ["https://reg!stry.example.com", false, "expected a hostname or an http(s) URL"],
    ["https://registry..example.com", false, "expected a hostname or an http(s) URL"],
    ["https://registry.example.com/a b", false, "expected a hostname or an http(s) URL"],
    ["ftp://x", false, 'Invalid -r/--registry-server "ftp://x": only https:// and http:// are supported.'],
    ["file:///etc/passwd", false, "only https:// and http:// are supported"],
    ["https://user:pw@x", false, "Invalid -r/--registry-server: do not put credentials in the URL; use -u and -c instead."],
    ["user@registry.example.com", false, "do not put credentials in the URL"],
    ["x?y=1", false, 'Invalid -r/--registry-server "x?…": the URL must not have a query or fragment.'],
    ["https://x/#top", false, "must not have a query or fragment"],
    ["https://x/path?", false, "must not have a query or fragment"],
    ["http://127.0.0.1:5000", false,
      "-r/--registry-server http://127.0.0.1:5000 uses plain http://, which sends registry tokens unencrypted. " +
        "Add -k/--insecure to allow it, or use https://."],
  ])("%j (insecure %s)", (text, insecure, message) => {
    expect(refusal(() => parseServer(text, FLAG, insecure)).message).toContain(message);
  });

  it.each([
    "https://root:glpat-SECRET1@exa mple.com",
    "https://registry.example.com/?private_token=glpat-SECRET1",
    "registry.example.com#glpat-SECRET1",
    "ftp://root:glpat-SECRET1@x",
  ])("%j without echoing a secret it holds", (text) => {
    expect(refusal(() => parseServer(text, FLAG, false)).message).not.toContain("SECRET1");
  });

  it("names the flag it was given", () => {
    expect(refusal(() => parseServer("", "-g/--gitlab-server", false)).message).toContain("e.g. gitlab.example.com");
  });
});

const BASE: RawOptions = { gitlabServer: "gitlab.example.com", registryServer: "registry.example.com" };

describe("resolveOptions", () => {
  it("applies the defaults of the original tool", () => {
    expect(resolveOptions(BASE)).toMatchObject({
      gitlabUrl: new URL("https://gitlab.example.com"),
      registryUrl: new URL("https://registry.example.com"),
      user: "root",
      dryRun: false,
      insecure: false,
      minAgeMs: 24 * 3_600_000,
      concurrency: DEFAULT_CONCURRENCY,
      yes: false,
      registryConfig: DEFAULT_REGISTRY_CONFIG,
      json: false,
    });
    // Not given: the storage comes from the registry config, else this default (cli/storage-backends.ts).
    expect(resolveOptions(BASE).registryPath).toBeUndefined();
    expect(DEFAULT_REGISTRY_PATH).toBe("/var/opt/gitlab/gitlab-rails/shared/registry");
  });

  it("-k applies to both servers", () => {
    const options = resolveOptions({ gitlabServer: "http://g", registryServer: "http://r:5000", insecure: true });
    expect([options.gitlabUrl.href, options.registryUrl.href, options.insecure]).toEqual(["http://g/", "http://r:5000/", true]);
  });

  it.each([
    ["0", 0],
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["24h", 86_400_000],
    [" 7d ", 604_800_000],
    ["2w", 1_209_600_000],
    ["1h30m", 5_400_000],
    ["1h 30m", 5_400_000],
  ])("--min-age %j is %d ms", (minAge, ms) => {
    expect(resolveOptions({ ...BASE, minAge }).minAgeMs).toBe(ms);
  });

  it.each(["24", "", "1.5h", "-1h", "30m1h", "1h1h", "1y", "h", "9999999999999w"])("refuses --min-age %j", (minAge) => {
    expect(refusal(() => resolveOptions({ ...BASE, minAge })).message)
      .toContain(`Invalid --min-age "${minAge}": use a duration like 24h, 30m, 7d or 1h30m (0 disables).`);
  });

  it.each([["1", 1], ["64", 64], [" 8 ", 8]])("--concurrency %j is %d", (concurrency, value) => {
    expect(resolveOptions({ ...BASE, concurrency }).concurrency).toBe(value);
  });

  it.each(["0", "65", "-1", "2.5", "", "eight", "0x10", "1e1"])("refuses --concurrency %j", (concurrency) => {
    expect(refusal(() => resolveOptions({ ...BASE, concurrency })).message)
      .toBe(`Invalid --concurrency "${concurrency}": use a whole number from 1 to 64.`);
  });

  it.each([
    [{ registryPath: "" }, "-p/--registry-path is empty: give a value or leave the flag out."],
    [{ user: " " }, "-u/--user is empty"],
    [{ credentialsFile: "" }, "-c/--credentials-file is empty"],
    [{ registryConfig: "" }, "--registry-config is empty"],
    [{ caCert: "" }, "--ca-cert is empty"],
    [{ journal: "" }, "--journal is empty"],
    [{ journal: "-n" }, '--journal "-n" looks like a flag, not a path: give --journal a value before the next flag, ' +
      "or write --journal=./-n if that really is the file's name."],
    [{ output: "--json" }, '--output "--json" looks like a flag'],
    [{ credentialsFile: "-u" }, "or write --credentials-file=./-u if"],
    [{ registryConfig: "-y" }, '--registry-config "-y" looks like a flag'],
    [{ registryPath: "-n" }, '-p/--registry-path "-n" looks like a flag'],
    [{ caCert: "-k" }, '--ca-cert "-k" looks like a flag'],
    [{ policyFile: "-n" }, '--policy-file "-n" looks like a flag'],
    [{ gitlabServer: "" }, "Missing -g/--gitlab-server"],
    [{ registryServer: undefined }, "Missing -r/--registry-server"],
  ] as Array<[RawOptions, string]>)("refuses %j", (raw, message) => {
    expect(refusal(() => resolveOptions({ ...BASE, ...raw })).message).toContain(message);
  });

  it("takes a bucket with --storage, its endpoint and region, and refuses it next to -p", () => {
    expect(resolveOptions({ ...BASE, storage: " s3://bucket/registry ", s3Endpoint: "http://127.0.0.1:7480", s3Region: "eu-west-1" }))
      .toMatchObject({ storage: "s3://bucket/registry", s3Endpoint: "http://127.0.0.1:7480", s3Region: "eu-west-1" });
    expect(refusal(() => resolveOptions({ ...BASE, storage: "s3://b", registryPath: "/srv/registry" })).message)
      .toContain("-p/--registry-path and --storage both name the storage: keep -p for a registry on this machine's disk");
    expect(refusal(() => resolveOptions({ ...BASE, storage: "/srv/registry" })).message)
      .toContain('Invalid --storage "/srv/registry": it takes s3://<bucket>/<rootdirectory>; give a path on disk with -p instead.');
    expect(refusal(() => resolveOptions({ ...BASE, s3Endpoint: "http://127.0.0.1:7480" })).message)
      .toBe("--s3-endpoint goes with --storage s3://<bucket>/<rootdirectory>.");
  });

  it("keeps optional values only when given", () => {
    const options = resolveOptions({
      ...BASE, credentialsFile: "/root/c", password: "pw", caCert: "/ca.pem", journal: "/j.jsonl", dryRun: true, yes: true,
    });
    expect(options).toMatchObject({
      credentialsFile: "/root/c", password: "pw", caCert: "/ca.pem", journal: "/j.jsonl", dryRun: true, yes: true,
    });
    for (const key of ["credentialsFile", "password", "caCert", "journal"]) expect(resolveOptions(BASE)).not.toHaveProperty(key);
  });
});
