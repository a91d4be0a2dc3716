import { describe, expect, it } from "vitest";
import { PASSWORD_ENV, resolveCredentials, type CredentialInputs, type CredentialOptions } from "../../src/cli/credentials.js";
import { UsageError } from "../../src/core/errors.js";

const FILE = "/root/.registry-cleanup";

/** One fake world: a file system of path -> content (or an errno), env, terminal and stdin. */
interface World {
  files?: Record<string, string | { code: string }>;
  modes?: Record<string, number>;
  env?: Record<string, string>;
  tty?: boolean;
  typed?: string;
  stdin?: string;
}

function inputs(world: World): CredentialInputs & { warnings: string[]; prompts: string[]; stdinReads: number } {
  const io = {
    warnings: [] as string[],
    prompts: [] as string[],
    stdinReads: 0,
    readFile: async (path: string) => {
      const entry = world.files?.[path] ?? { code: "ENOENT" };
      if (typeof entry === "string") return entry;
      throw Object.assign(new Error(`${entry.code}: ${path}`), { code: entry.code });
    },
    fileMode: async (path: string) => world.modes?.[path] ?? (world.files?.[path] === undefined ? undefined : 0o100600),
    env: world.env ?? {},
    stdinIsTTY: world.tty === true,
    prompt: async (message: string) => {
      io.prompts.push(message);
      return world.typed ?? "";
    },
    readStdinLine: async () => {
      io.stdinReads++;
      return world.stdin;
    },
    warn: (message: string) => void io.warnings.push(message),
  };
  return io;
}

async function refusal(promise: Promise<unknown>): Promise<UsageError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

const NO_SECRET = "line 2 must hold the password or personal access token, but it is";
const fromFile: CredentialOptions = { credentialsFile: FILE, user: "root" };

describe("the credentials file", () => {
  it.each([
    ["LF and a trailing newline", "bot\nglpat-abc\n"],
    ["no trailing newline", "bot\nglpat-abc"],
    ["CRLF", "bot\r\nglpat-abc\r\n"],
    ["CRLF without a trailing one", "bot\r\nglpat-abc"],
    ["a third line", "bot\nglpat-abc\nignored\n"],
    ["spaces around the username", "  bot \nglpat-abc\n"],
    ["a byte order mark", "\uFEFFbot\nglpat-abc\n"],
  ])("is read with %s", async (_, content) => {
    const io = inputs({ files: { [FILE]: content } });
    expect(await resolveCredentials(fromFile, io)).toEqual({ username: "bot", secret: "glpat-abc", source: "credentials file" });
    expect(io.warnings).toEqual([]);
  });

  it("keeps spaces inside the secret: passwords may have them", async () => {
    const io = inputs({ files: { [FILE]: "bot\n pass word \n" } });
    expect((await resolveCredentials(fromFile, io)).secret).toBe(" pass word ");
  });

  it.each([
    ["missing", { code: "ENOENT" }, `Credentials file ${FILE} does not exist.`],
    ["unreadable", { code: "EACCES" }, `Cannot read credentials file ${FILE}: permission denied. Run as its owner or with sudo.`],
    ["a directory", { code: "EISDIR" }, `Credentials file ${FILE} is a directory, not a file.`],
    ["failing otherwise", { code: "EIO" }, `Cannot read credentials file ${FILE}: EIO.`],
    ["empty", "", `Credentials file ${FILE}: line 1 must hold the GitLab username, but it is empty.`],
    ["a blank first line", "\nsecret\n", `Credentials file ${FILE}: line 1 must hold the GitLab username, but it is empty.`],
    ["one line", "bot", `Credentials file ${FILE}: ${NO_SECRET} missing.`],
    ["one line and a newline", "bot\n", `Credentials file ${FILE}: ${NO_SECRET} missing.`],
    ["one CRLF line", "bot\r\n", `Credentials file ${FILE}: ${NO_SECRET} missing.`],
    ["an empty second line", "bot\n\nsecret\n", `Credentials file ${FILE}: ${NO_SECRET} empty.`],
    ["an empty second CRLF line", "bot\r\n\r\n", `Credentials file ${FILE}: ${NO_SECRET} empty.`],
  ] as const)("is refused when %s", async (_, entry, message) => {
    const io = inputs({ files: { [FILE]: entry } });
    expect((await refusal(resolveCredentials(fromFile, io))).message).toBe(message);
  });

  it.each([
    [0o100644, "644"],
    [0o100640, "640"],
    [0o100604, "604"],
  ])("warns like ssh when mode is %o, and is still used", async (mode, shown) => {
    const io = inputs({ files: { [FILE]: "bot\nglpat-abc\n" }, modes: { [FILE]: mode } });
    expect((await resolveCredentials(fromFile, io)).secret).toBe("glpat-abc");
    expect(io.warnings).toEqual([
      `Credentials file ${FILE} is accessible by other users (mode ${shown}); restrict it with: chmod 600 ${FILE}`,
    ]);
  });

  it.each([0o100600, 0o100400])("does not warn when mode is %o", async (mode) => {
    const io = inputs({ files: { [FILE]: "bot\nglpat-abc\n" }, modes: { [FILE]: mode } });
    await resolveCredentials(fromFile, io);
    expect(io.warnings).toEqual([]);
  });

  it("never puts the secret into a message", async () => {
    const io = inputs({ files: { [FILE]: "\nS3cr3t-in-file\n" }, modes: { [FILE]: 0o100644 } });
    const error = await refusal(resolveCredentials(fromFile, io));
    expect([error.message, ...io.warnings].join("\n")).not.toContain("S3cr3t");
  });
});

describe("precedence", () => {
  const everything: World = {
    files: { [FILE]: "bot\nfrom-file\n" },
    env: { [PASSWORD_ENV]: "from-env" },
    tty: true,
    typed: "from-prompt",
    stdin: "from-stdin",
  };

  it.each([
    ["the file over everything", { credentialsFile: FILE, password: "from-flag" }, everything, "bot", "from-file", "credentials file"],
    ["--password over env, prompt and stdin", { password: "from-flag" }, everything, "dev", "from-flag", "--password"],
    ["env over prompt and stdin", {}, everything, "dev", "from-env", PASSWORD_ENV],
    ["an empty env variable is unset", {}, { ...everything, env: { [PASSWORD_ENV]: "" } }, "dev", "from-prompt", "prompt"],
    ["the prompt on a terminal over stdin", {}, { ...everything, env: {} }, "dev", "from-prompt", "prompt"],
    ["stdin without a terminal", {}, { ...everything, env: {}, tty: false }, "dev", "from-stdin", "stdin"],
    ["stdin without its CR", {}, { stdin: "from-stdin\r" }, "dev", "from-stdin", "stdin"],
  ] as const)("takes %s", async (_, given, world, username, secret, source) => {
    const io = inputs(world);
    expect(await resolveCredentials({ user: "dev", ...given }, io)).toEqual({ username, secret, source });
    if (source !== "prompt") expect(io.prompts).toEqual([]);
    if (source === "prompt") expect(io.prompts).toEqual(["Password or personal access token for dev:"]);
    if (source !== "stdin") expect(io.stdinReads).toBe(0);
  });

  it("warns that --password shows in the process list", async () => {
    const io = inputs({});
    await resolveCredentials({ user: "dev", password: "from-flag" }, io);
    expect(io.warnings).toEqual([
      `--password is visible to other users in the process list; prefer -c/--credentials-file or the ${PASSWORD_ENV} environment variable.`,
    ]);
  });

  it("warns that --password is ignored when a credentials file is given too", async () => {
    const io = inputs(everything);
    await resolveCredentials({ user: "dev", credentialsFile: FILE, password: "from-flag" }, io);
    expect(io.warnings).toHaveLength(1);
    expect(io.warnings[0]).toContain("It is ignored: the -c/--credentials-file secret is used.");
  });

  it.each([
    ["empty stdin", { stdin: "" }],
    ["stdin at end of input", {}],
    ["stdin holding only CR", { stdin: "\r" }],
  ])("refuses %s with the ways to give a secret", async (_, world) => {
    const error = await refusal(resolveCredentials({ user: "dev" }, inputs(world)));
    expect(error.message).toBe(
      `No password or token given: use -c/--credentials-file, the ${PASSWORD_ENV} environment variable, or pipe it on standard input.`,
    );
  });

  it.each([
    ["--password", { password: "" }, {}],
    ["prompt", {}, { tty: true, typed: "" }],
  ] as const)("refuses an empty secret from %s", async (source, given, world) => {
    const error = await refusal(resolveCredentials({ user: "dev", ...given }, inputs(world)));
    expect(error.message).toBe(`The password or token from ${source} is empty.`);
  });
});
