/**
 * Where the username and secret (password or personal access token) come from, in the order
 * the original tool used: credentials file, --password, environment, prompt, stdin.
 */
import { UsageError } from "../core/errors.js";

export const PASSWORD_ENV = "GITLAB_REGISTRY_CLEANUP_PASSWORD";

export type CredentialSource = "credentials file" | "--password" | typeof PASSWORD_ENV | "prompt" | "stdin";

export interface Credentials {
  username: string;
  secret: string;
  source: CredentialSource;
}

/** The outside world credentials are read from, injected so tests need no terminal. */
export interface CredentialInputs {
  readFile(path: string): Promise<string>;
  /** The file's permission bits, or undefined when they cannot be read. */
  fileMode(path: string): Promise<number | undefined>;
  env: Readonly<Record<string, string | undefined>>;
  stdinIsTTY: boolean;
  prompt(message: string): Promise<string>;
  /** The first line of standard input, or undefined at end of input. */
  readStdinLine(): Promise<string | undefined>;
  warn(message: string): void;
}

export interface CredentialOptions {
  credentialsFile?: string;
  user: string;
  password?: string;
}

/** Resolves the credentials. Throws UsageError when none can be had. */
export async function resolveCredentials(options: CredentialOptions, io: CredentialInputs): Promise<Credentials> {
  if (options.password !== undefined) {
    io.warn("--password is visible to other users in the process list; prefer -c/--credentials-file or " +
      `the ${PASSWORD_ENV} environment variable.` +
      (options.credentialsFile !== undefined ? " It is ignored: the -c/--credentials-file secret is used." : ""));
  }
  if (options.credentialsFile !== undefined) return readCredentialsFile(options.credentialsFile, io);
  const username = options.user;
  if (options.password !== undefined) return checked({ username, secret: options.password, source: "--password" });
  const fromEnv = io.env[PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return checked({ username, secret: fromEnv, source: PASSWORD_ENV });
  if (io.stdinIsTTY) {
    const secret = await io.prompt(`Password or personal access token for ${username}:`);
    return checked({ username, secret, source: "prompt" });
  }
  const line = await io.readStdinLine();
  if (line === undefined || line.replace(/\r$/, "") === "") {
    throw new UsageError(
      "No password or token given: use -c/--credentials-file, the " + PASSWORD_ENV +
        " environment variable, or pipe it on standard input.",
    );
  }
  return checked({ username, secret: line.replace(/\r$/, ""), source: "stdin" });
}

/** Line 1: username; line 2: password or token. CRLF and a trailing newline are fine. */
async function readCredentialsFile(path: string, io: CredentialInputs): Promise<Credentials> {
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (error) {
    throw new UsageError(describeReadError(path, error), { cause: error });
  }
  const mode = await io.fileMode(path);
  if (mode !== undefined && (mode & 0o077) !== 0) {
    io.warn(`Credentials file ${path} is accessible by other users (mode ${(mode & 0o777).toString(8)}); ` +
      `restrict it with: chmod 600 ${path}`);
  }
  const lines = text.split(/\r?\n/);
  // A final newline ends line 1 or 2; it does not start another line.
  if (lines.at(-1) === "") lines.pop();
  const [first, second] = lines;
  const username = first?.trim() ?? "";
  const secret = second?.replace(/\r$/, "") ?? "";
  if (username === "") {
    throw new UsageError(`Credentials file ${path}: line 1 must hold the GitLab username, but it is empty.`);
  }
  if (secret === "") {
    throw new UsageError(
      `Credentials file ${path}: line 2 must hold the password or personal access token, but it is ` +
        (second === undefined ? "missing." : "empty."),
    );
  }
  return { username, secret, source: "credentials file" };
}

function describeReadError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return `Credentials file ${path} does not exist.`;
  if (code === "EACCES" || code === "EPERM") {
    return `Cannot read credentials file ${path}: permission denied. Run as its owner or with sudo.`;
  }
  if (code === "EISDIR") return `Credentials file ${path} is a directory, not a file.`;
  return `Cannot read credentials file ${path}: ${code ?? "unknown error"}.`;
}

function checked(credentials: Credentials): Credentials {
  if (credentials.secret === "") {
    throw new UsageError(`The password or token from ${credentials.source} is empty.`);
  }
  return credentials;
}
