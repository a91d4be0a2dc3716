/**
 * The password and the token never appear in what the CLI prints or writes: every command path
 * (dry run, real run, refusals, usage errors, each way of passing the secret, --help) is run with
 * recognisable secrets, and stdout, stderr and every file under its HOME are searched for them.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PASSWORD_ENV } from "../../src/cli/credentials.js";
import { startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { setDeleteEnabled } from "../helpers/registry-server.js";
import { runCli, type CliResult } from "../helpers/run-cli.js";

const core = (): string => randomBytes(8).toString("hex");
const PASSWORD = `S3cr3t-${core()}`;
const TOKEN = `glpat-${core()}`;
const GUEST_PASSWORD = `S3cr3t-${core()}`;
const WRONG = `S3cr3t-${core()}`;
const SECRETS = [PASSWORD, TOKEN, GUEST_PASSWORD, WRONG];
/** Each secret, its random part alone (a truncated leak), and as HTTP Basic would carry it. */
const NEEDLES = SECRETS.flatMap((secret) => [
  secret, secret.slice(secret.indexOf("-") + 1),
  ...["root", "guest"].map((user) => Buffer.from(`${user}:${secret}`).toString("base64").slice(0, 16)),
]);

let env: Environment;

/** Writes a two-line credentials file. */
async function creds(username: string, secret: string): Promise<string> {
  const path = join(env.dir, `creds-${core()}`);
  await writeFile(path, `${username}\n${secret}\n`, { mode: 0o600 });
  return path;
}

function base(...extra: string[]): string[] {
  return [
    "-g", env.gitlab.url, "-r", env.registry.url, "-k", "-p", env.registry.storageRoot,
    "--registry-config", env.registry.configPath, "--min-age", "0", ...extra,
  ];
}

/** Every file under `dir`, with its content. */
async function filesUnder(dir: string): Promise<Array<{ path: string; content: string }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map(async (path) => ({ path, content: await readFile(path, "latin1") })));
}

interface Row {
  name: string;
  args: () => Promise<string[]> | string[];
  code: number;
  env?: Record<string, string>;
  input?: string;
  /** Something only that path prints, so the row is known to have taken it. */
  proof: RegExp;
  /** True when the run journals manifests, so the search covers a written file. */
  journals?: boolean;
}

const rows: Row[] = [
  { name: "dry run, password in a credentials file", args: async () => base("-n", "-c", await creds("root", PASSWORD)), code: 0, proof: /^Would delete image/m },
  { name: "dry run, token in a credentials file", args: async () => base("-n", "-c", await creds("root", TOKEN)), code: 0, proof: /administrator/ },
  { name: "dry run, --password", args: () => base("-n", "--password", PASSWORD), code: 0, proof: /--password is visible/ },
  { name: "dry run, environment variable", args: () => base("-n"), env: { [PASSWORD_ENV]: TOKEN }, code: 0, proof: /^Would delete image/m },
  { name: "dry run, standard input", args: () => base("-n"), input: `${PASSWORD}\n`, code: 0, proof: /^Would delete image/m },
  { name: "--password and a credentials file", args: async () => base("-n", "--password", WRONG, "-c", await creds("root", PASSWORD)), code: 0, proof: /It is ignored/ },
  { name: "wrong password", args: async () => base("-c", await creds("root", WRONG)), code: 4, proof: /GitLab refused the credentials/ },
  { name: "wrong password on standard input", args: () => base(), input: `${WRONG}\r\n`, code: 4, proof: /GitLab refused the credentials/ },
  { name: "no permission", args: async () => base("-c", await creds("guest", GUEST_PASSWORD)), code: 4, proof: /no permission/ },
  { name: "missing -g", args: () => base("--password", PASSWORD).slice(2), code: 2, proof: /Missing -g/ },
  { name: "credentials in the URL", args: () => [...base("--password", PASSWORD), "-g", `https://root:${PASSWORD}@gitlab.example.com`], code: 2, proof: /do not put credentials in the URL/ },
  { name: "credentials in a malformed URL", args: () => [...base(), "-g", `https://root:${PASSWORD}@exa mple.com`], code: 2, proof: /Invalid -g/ },
  { name: "token in the query", args: () => [...base(), "-r", `registry.example.com/?private_token=${TOKEN}`], code: 2, proof: /must not have a query/ },
  { name: "http:// without -k", args: () => base("--password", PASSWORD).filter((a) => a !== "-k"), code: 2, proof: /uses plain http/ },
  { name: "unknown flag", args: () => base("--password", PASSWORD, "--frobnicate"), code: 2, proof: /unknown option/ },
  { name: "--help", args: () => base("--password", PASSWORD, "--help"), code: 0, proof: /Exit codes:/ },
  { name: "--version", args: () => ["--password", PASSWORD, "-V"], code: 0, proof: /^\d+\.\d+\.\d+/ },
];

/** Runs the CLI with a fresh HOME (the default journal lives there); returns output and files. */
async function run(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const home = await mkdtemp(join(env.dir, "home-"));
  const result = await runCli(args, { env: { HOME: home, XDG_STATE_HOME: join(home, "state"), ...options.env }, input: options.input ?? "" });
  return { result, files: await filesUnder(home) };
}

function expectNoSecret(result: CliResult, files: Array<{ path: string; content: string }>): void {
  const places = [["stdout", result.stdout], ["stderr", result.stderr], ...files.map((f) => [f.path, f.content])];
  for (const [place, text] of places) {
    for (const needle of NEEDLES) expect(text!.includes(needle), `${needle} in ${place}:\n${text}`).toBe(false);
    // Registry tokens are secrets too: no JWT (base64url of '{"').
    expect(text, place).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
  }
}

beforeAll(async () => {
  env = await startEnvironment({
    users: [
      { username: "root", password: PASSWORD, admin: true, tokens: [{ token: TOKEN, scopes: ["api"] }] },
      { username: "guest", password: GUEST_PASSWORD },
    ],
    projects: [{ path: "group/project", members: { guest: "reporter" } }],
  });
  await pushTagHistory(env.pushContext({ username: "root", secret: PASSWORD }), "group/project", "latest", 4, { seed: 7 });
});

afterAll(async () => {
  await env?.stop();
});

describe("no secret in output or files", () => {
  it.each(rows)("$name", async (row) => {
    const { result, files } = await run(await row.args(), row);
    expect(result.code, result.stderr).toBe(row.code);
    expect(result.stdout + result.stderr).toMatch(row.proof);
    expectNoSecret(result, files);
  });

  it("a run stopped because deletes are disabled journals, and the journal holds no secret", async () => {
    await setDeleteEnabled(env.registry, false);
    try {
      const { result, files } = await run(base("-c", await creds("root", TOKEN)));
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toContain("deletes are disabled in the registry");
      expect(files.filter((f) => /journal-.*\.jsonl$/.test(f.path) && f.content.length > 0)).not.toEqual([]);
      expectNoSecret(result, files);
    } finally {
      await setDeleteEnabled(env.registry, true);
    }
  });

  it("a real run, token in the environment: output and journal hold no secret", async () => {
    const { result, files } = await run(base(), { env: { [PASSWORD_ENV]: TOKEN } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Deleted image/m);
    expect(files.filter((f) => /journal-.*\.jsonl$/.test(f.path) && f.content.includes("group/project"))).toHaveLength(1);
    expectNoSecret(result, files);
  });

  // Commander would echo an unknown `--flag=value` whole; program.ts redacts the value.
  it("a mistyped --password=<secret> is not echoed", async () => {
    const { result, files } = await run(base(`--passwd=${PASSWORD}`));
    expect(result.code).toBe(2);
    expectNoSecret(result, files);
  });
});
