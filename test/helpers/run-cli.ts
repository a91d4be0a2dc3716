/**
 * Runs the built CLI (dist/cli/main.js) as users do, asynchronously: the GitLab stand-in lives in
 * the test's own process and must stay free to answer the token requests.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Environment } from "./environment.js";
import type { Credentials } from "./registry-http.js";

/** The package root: the nearest folder above this file with a package.json (also from .build/). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const CLI = join(PACKAGE_ROOT, "dist", "cli", "main.js");

function findPackageRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
  }
  throw new Error(`no package.json above ${start}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * What setpriv needs to run the CLI as root without the capabilities that bypass file modes: EACCES
 * is then real for a file mode 0000 or another user's 0700 folder. Still root, so the checkout is
 * reachable wherever it lives (switching to nobody failed from a clone under /root, mode 0700).
 */
const WITHOUT_FILE_CAPABILITIES = [
  "/usr/bin/setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search",
];

/** Runs the CLI with `args` (as root bound by file modes with `withoutFileCapabilities`); never rejects on a non-zero exit. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; withoutFileCapabilities?: boolean } = {},
): Promise<CliResult> {
  const command = [...(options.withoutFileCapabilities ? WITHOUT_FILE_CAPABILITIES : []), process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    const child = execFile(command[0]!, command.slice(1), {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...options.env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? "");
  });
}

/** Writes a two-line credentials file (mode 0600) into the environment's directory. */
export async function credentialsFile(env: Pick<Environment, "dir">, credentials: Credentials, name = "credentials"): Promise<string> {
  const path = join(env.dir, name);
  await writeFile(path, `${credentials.username}\n${credentials.secret}\n`);
  await chmod(path, 0o600);
  return path;
}

/** The flags that point the CLI at the environment's stand-in, registry and storage. */
export function environmentArgs(env: Environment, credentialsPath: string): string[] {
  return [
    "-g", env.gitlab.url, "-r", env.registry.url, "-k",
    "-p", env.registry.storageRoot, "--registry-config", env.registry.configPath,
    "-c", credentialsPath, "--journal", join(env.dir, "journal.jsonl"),
  ];
}
