/**
 * Every option can come from `GITLAB_REGISTRY_CLEANUP_<OPTION>` (flag name in upper snake case).
 * A flag on the command line wins over the environment, the environment over the default.
 * The password is the exception: credentials.ts reads GITLAB_REGISTRY_CLEANUP_PASSWORD itself,
 * after the credentials file and before the prompt, without the --password warning.
 */
import { UsageError } from "../core/errors.js";
import type { RawOptions } from "./options.js";

export const ENV_PREFIX = "GITLAB_REGISTRY_CLEANUP_";

type Kind = "string" | "boolean";

/** Option key -> its kind. Key names are commander's camelCase attribute names. */
export const ENV_OPTIONS: Record<Exclude<keyof RawOptions, "password">, Kind> = {
  gitlabServer: "string", registryServer: "string", registryPath: "string", storage: "string",
  s3Endpoint: "string", s3Region: "string", credentialsFile: "string",
  user: "string", dryRun: "boolean", insecure: "boolean", minAge: "string", concurrency: "string",
  yes: "boolean", registryConfig: "string", caCert: "string", journal: "string", json: "boolean",
  output: "string", quiet: "boolean", verbose: "boolean", color: "boolean", gc: "boolean", gcCommand: "string", forceGc: "boolean",
  // Repeatable flags take a comma-separated list here.
  keepN: "string", olderThan: "string", nameRegexDelete: "string", nameRegexKeep: "string", policyFile: "string",
  gitlabPolicies: "boolean", repository: "string", excludeRepository: "string", maxDelete: "string",
  deleteEmptyRepositories: "boolean",
};

/** `gitlabServer` -> `GITLAB_REGISTRY_CLEANUP_GITLAB_SERVER`. */
export function envName(key: string): string {
  return ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/**
 * Fills options not given on the command line from the environment. `fromCommandLine(key)` says
 * whether the user typed that flag. Booleans accept 1/true/yes/on and 0/false/no/off.
 */
export function applyEnvironment(
  raw: RawOptions,
  env: Readonly<Record<string, string | undefined>>,
  fromCommandLine: (key: string) => boolean,
): RawOptions {
  const merged: Record<string, unknown> = { ...raw };
  for (const [key, kind] of Object.entries(ENV_OPTIONS)) {
    const value = env[envName(key)];
    if (value === undefined || fromCommandLine(key)) continue;
    merged[key] = kind === "boolean" ? parseBoolean(envName(key), value) : value;
  }
  return merged as RawOptions;
}

function parseBoolean(name: string, value: string): boolean {
  const text = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(text)) return true;
  if (["0", "false", "no", "off", ""].includes(text)) return false;
  throw new UsageError(`${name}="${value}" is not a yes/no value: use 1, true, yes, on or 0, false, no, off.`);
}
