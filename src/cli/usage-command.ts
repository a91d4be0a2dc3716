/**
 * `gitlab-registry-cleanup usage`: where the registry's space goes, per repository, project and
 * top-level group. Read-only. A shell around runUsage (src/usage.ts): resolve flags, build the
 * storage (as the cleanup does) and, with --gitlab, the REST API, then render the result.
 */
import { Command } from "commander";
import { parseDuration } from "../core/duration.js";
import { AuthError, ExitCode, UsageError } from "../core/errors.js";
import type { StorageWarning } from "../core/types.js";
import { GitLabRestApi } from "../gitlab/api.js";
import { buildPreflight } from "../preflight.js";
import { createDispatcher } from "../registry/http.js";
import { readRegistryConfig } from "../storage/registry-config.js";
import { RegistryStorage } from "../storage/registry-storage.js";
import { projectLookup, runUsage, type UsageDependencies } from "../usage.js";
import { PASSWORD_ENV, resolveCredentials } from "./credentials.js";
import { applyEnvironment } from "./environment.js";
import { DEFAULT_MIN_AGE, DEFAULT_REGISTRY_CONFIG, DEFAULT_USER, parseServer, type RawOptions } from "./options.js";
import { NO_PROGRESS, terminalProgress, type Progress } from "./progress.js";
import { renderWarning } from "./render.js";
import { chooseStorage, type StorageChoice } from "./storage-backends.js";
import { styleFor } from "./style.js";
import { processCredentialInputs } from "./terminal.js";
import { renderUsage, usageJson, type UsageInfo } from "./usage-render.js";
import { err, onSignals, out, readCaCert } from "./wiring.js";

/** Raw flags of the usage command (the storage and connection flags are the cleanup's). */
interface RawUsageOptions extends RawOptions {
  top?: string;
  gitlab?: string;
}

const DEFAULT_TOP = 20;

const HELP_AFTER = `
Reads the registry's storage (on disk or S3, as the cleanup does) and shows, per repository and
per top-level group (and per GitLab project with --gitlab), sorted by what a cleanup would free:
  size      every blob its manifests reference, each counted once in the row
  kept      blobs that tagged (or otherwise kept) manifests need
  freeable  blobs only untagged manifests a cleanup deletes hold, and nothing kept anywhere:
            what the cleanup, then garbage collection, frees
  shared    blobs a repository outside the row references too
Deletes nothing and needs no GitLab credentials, except with --gitlab, which names each
repository's project and flags orphans: an administrator's personal access token with the api
or read_api scope, from the -c file, --password, $${PASSWORD_ENV},
a prompt on a terminal, else the first line of standard input.
See docs/usage-report.md.

Examples:
  sudo gitlab-registry-cleanup usage
  sudo gitlab-registry-cleanup usage --top 5 --min-age 7d
  sudo gitlab-registry-cleanup usage --gitlab gitlab.example.com -c /root/.registry-cleanup --json > usage.json

Exit codes:
  0    done
  1    an error while reading (the storage stopped answering, GitLab failed)
  2    usage or input error (a flag, the storage path, the credentials)
  3    refused: the registry uses its metadata database, or a storage driver not read
  130  interrupted
`;

/** Adds the `usage` subcommand to the program. */
export function addUsageCommand(program: Command, version: string): void {
  program
    .command("usage")
    .description("Show where the registry's space goes, per repository, project and group, and what a cleanup would free. Reads only.")
    .option("--registry-config <path>", `registry config.yml, read for the storage and the metadata database (default: ${DEFAULT_REGISTRY_CONFIG})`)
    .option("-p, --registry-path <path>", "registry storage root on this machine (default: the registry config's rootdirectory)")
    .option("--storage <url>", "a registry on S3 whose config is not at --registry-config: s3://<bucket>/<rootdirectory>")
    .option("--s3-endpoint <url>", "with --storage: the S3-compatible server's URL (default: AWS)")
    .option("--s3-region <region>", "with --storage: the bucket's region (default: us-east-1)")
    .option("--min-age <duration>", `untagged manifests younger than this count as kept, as in the cleanup (default: ${DEFAULT_MIN_AGE})`)
    .option("--top <n>", `rows per table (default: ${DEFAULT_TOP}; with --json: all; 0: all)`)
    .option("--json", "write the report as one JSON document on stdout")
    .option("--gitlab <host>", "GitLab hostname or URL: roll up per project and flag orphans (needs an admin's API token)")
    .option("-c, --credentials-file <file>", "with --gitlab: file with the username (line 1) and personal access token (line 2)")
    .option("-u, --user <name>", `with --gitlab: GitLab username (default: "${DEFAULT_USER}")`)
    .option("--password <secret>", "with --gitlab: the personal access token (visible in the process list; prefer -c)")
    .option("-k, --insecure", "with --gitlab: allow http:// and skip TLS certificate verification")
    .option("--ca-cert <file>", "with --gitlab: PEM file with the CA that signed GitLab's certificate")
    .option("--no-color", "no colour (also off when not on a terminal, or with NO_COLOR)")
    .addHelpText("after", HELP_AFTER)
    .action(async (_options: unknown, command: Command) => {
      await usageCommand(mergedOptions(command), version);
    });
}

/**
 * Commander lets the parent program consume its own flags (-p, --json, --min-age…) wherever they
 * are typed, so both are read: a value typed for this command wins, then the parent's, then the
 * environment, then the parent's defaults (this command's own options have none, on purpose).
 */
function mergedOptions(command: Command): RawUsageOptions & { typed: (key: string) => boolean } {
  const parent = command.parent;
  const merged: Record<string, unknown> = { ...parent?.opts() };
  for (const [key, value] of Object.entries(command.opts())) {
    if (value !== undefined && command.getOptionValueSource(key) !== "default") merged[key] = value;
  }
  const typed = (key: string): boolean =>
    command.getOptionValueSource(key) === "cli" || parent?.getOptionValueSource(key) === "cli";
  return { ...(applyEnvironment(merged as RawOptions, process.env, typed) as RawUsageOptions), typed };
}

/** The flags that name the storage, as chooseStorage takes them. */
type StorageFlags = Omit<Parameters<typeof chooseStorage>[0], "config">;

/** The flags, checked. */
interface UsageFlags {
  minAgeMs: number;
  top: number | undefined;
  json: boolean;
  color: boolean;
  storage: StorageFlags;
  gitlab?: { url: URL; insecure: boolean; caCert?: string; user: string; credentialsFile?: string; password?: string };
}

function resolveUsageFlags(raw: RawUsageOptions & { typed: (key: string) => boolean }): UsageFlags {
  const minAgeText = (raw.minAge ?? DEFAULT_MIN_AGE).trim();
  const minAgeMs = parseDuration(minAgeText);
  if (minAgeMs === undefined) throw new UsageError(`Invalid --min-age "${raw.minAge}": use a duration like 24h, 30m, 7d or 1h30m (0 disables).`);
  const json = raw.json === true;
  const flags: UsageFlags = {
    minAgeMs, json, color: raw.color !== false, top: parseTop(raw.top, json),
    storage: { registryConfig: raw.registryConfig ?? DEFAULT_REGISTRY_CONFIG, ...storageFlags(raw) },
  };
  // -g typed for this command means what --gitlab does; from the environment it is the cleanup's.
  const host = raw.gitlab ?? (raw.typed("gitlabServer") ? raw.gitlabServer : undefined);
  if (host !== undefined) {
    const insecure = raw.insecure === true;
    flags.gitlab = {
      url: parseServer(host, "--gitlab", insecure), insecure, user: raw.user ?? DEFAULT_USER,
      ...(raw.caCert === undefined ? {} : { caCert: raw.caCert }),
      ...(raw.credentialsFile === undefined ? {} : { credentialsFile: raw.credentialsFile }),
      ...(raw.password === undefined ? {} : { password: raw.password }),
    };
  }
  return flags;
}

/** Rows per table: --top, else 20 in text and every row in JSON; 0 is every row. */
function parseTop(text: string | undefined, json: boolean): number | undefined {
  if (text === undefined) return json ? undefined : DEFAULT_TOP;
  if (!/^\s*\d+\s*$/.test(text)) throw new UsageError(`Invalid --top "${text}": use a whole number of rows (0 shows all).`);
  const top = Number(text);
  return top === 0 ? undefined : top;
}

/** -p or --storage (with --s3-endpoint and --s3-region), never both: as the cleanup takes them. */
function storageFlags(raw: RawUsageOptions): Omit<StorageFlags, "registryConfig"> {
  const given = (value: string | undefined, flag: string): string | undefined => {
    if (value !== undefined && value.trim() === "") throw new UsageError(`${flag} is empty: give a value or leave the flag out.`);
    return value;
  };
  const registryPath = given(raw.registryPath, "-p/--registry-path");
  const storage = given(raw.storage, "--storage")?.trim();
  const s3Endpoint = given(raw.s3Endpoint, "--s3-endpoint");
  const s3Region = given(raw.s3Region, "--s3-region");
  if (registryPath !== undefined && storage !== undefined) {
    throw new UsageError("-p/--registry-path and --storage both name the storage: give -p for a registry on disk, or --storage for one on S3.");
  }
  if (storage !== undefined && !/^s3:\/\//i.test(storage)) {
    throw new UsageError(`Invalid --storage "${storage}": it takes s3://<bucket>/<rootdirectory>; give a path on disk with -p instead.`);
  }
  if (storage === undefined && (s3Endpoint !== undefined || s3Region !== undefined)) {
    throw new UsageError(`${s3Endpoint !== undefined ? "--s3-endpoint" : "--s3-region"} goes with --storage s3://<bucket>/<rootdirectory>.`);
  }
  return {
    ...(registryPath === undefined ? {} : { registryPath }), ...(storage === undefined ? {} : { storage }),
    ...(s3Endpoint === undefined ? {} : { s3Endpoint }), ...(s3Region === undefined ? {} : { s3Region }),
  };
}

async function usageCommand(raw: RawUsageOptions & { typed: (key: string) => boolean }, version: string): Promise<void> {
  const flags = resolveUsageFlags(raw);
  const config = await readRegistryConfig(flags.storage.registryConfig);
  const choice = chooseStorage({ ...flags.storage, config });
  const preflight = buildPreflight({ driver: choice.driver, reading: choice.reading, config });
  const closers: Array<() => Promise<void>> = [async () => choice.close?.()];
  try {
    // Before any prompt: a wrong path or a missing sudo should not cost typing a token.
    await preflight();
    const gitlab = flags.gitlab ? await signIn(flags.gitlab, closers) : undefined;
    await report(flags, choice, preflight, gitlab, version);
  } catch (error) {
    // A token GitLab refuses for the API is an input error here: nothing is deleted, no permission is needed.
    if (error instanceof AuthError) throw new UsageError(error.message, { cause: error });
    throw error;
  } finally {
    for (const close of closers) await close().catch(() => {});
  }
}

/** With --gitlab: the REST API with the token, and whether its user sees every project. */
async function signIn(
  options: NonNullable<UsageFlags["gitlab"]>,
  closers: Array<() => Promise<void>>,
): Promise<{ projectOf: NonNullable<UsageDependencies["projectOf"]>; isAdmin: boolean; url: URL }> {
  const credentials = await resolveCredentials(options, processCredentialInputs((m) => err(`Warning: ${m}`)));
  const dispatcher = createDispatcher({ insecure: options.insecure, ...(await readCaCert(options.caCert)) });
  closers.push(() => dispatcher.close());
  const api = new GitLabRestApi({ gitlabUrl: options.url, token: credentials.secret, dispatcher });
  const user = await api.currentUser();
  if (!user) {
    throw new UsageError(
      `--gitlab looks projects up through GitLab's REST API at ${options.url.origin}, which takes personal access tokens only, ` +
        "and refused this secret (a password?): give an administrator's personal access token with the api or read_api scope.",
    );
  }
  if (!user.isAdmin) {
    err(`Signed in to GitLab as ${user.username}, not an administrator: repositories of projects ${user.username} cannot see ` +
      "are shown without a project, not as orphans.");
  }
  return { projectOf: projectLookup(api), isAdmin: user.isAdmin, url: options.url };
}

async function report(
  flags: UsageFlags,
  choice: StorageChoice,
  preflight: () => Promise<unknown>,
  gitlab: Awaited<ReturnType<typeof signIn>> | undefined,
  version: string,
): Promise<void> {
  const progress: Progress = process.stderr.isTTY === true ? terminalProgress(process.stderr) : NO_PROGRESS;
  const warnings: StorageWarning[] = [];
  const warningStyle = styleFor(process.stderr.isTTY === true, flags.color, process.env);
  const controller = new AbortController();
  const removeHandlers = onSignals(controller, "reads in flight");
  const info: UsageInfo = {
    version, minAgeMs: flags.minAgeMs, top: flags.top, orphansKnown: gitlab?.isAdmin === true,
    storage: { location: choice.driver.location, driver: choice.reading, credentials: (await choice.credentialSource?.()) ?? null },
    ...(gitlab ? { gitlabServer: gitlab.url.href } : {}),
  };
  try {
    const result = await runUsage(
      { storage: new RegistryStorage(choice.driver), preflight, now: Date.now, ...(gitlab ? { projectOf: gitlab.projectOf } : {}) },
      { minAgeMs: flags.minAgeMs },
      {
        warning: (warning) => {
          warnings.push(warning);
          const line = warningStyle.warning(renderWarning(warning));
          if (process.stderr.isTTY === true) progress.log(line);
          else err(line);
        },
        measuring: () => progress.log("Listing the blob store for its sizes..."),
        scanProgress: ({ repositories, manifests }) => progress.scanning(repositories, manifests),
      },
      controller.signal,
    );
    progress.stop();
    if (flags.json) out(JSON.stringify(usageJson(result, info, warnings, new Date()), null, 2));
    else renderUsage(result, info, styleFor(process.stdout.isTTY === true, flags.color, process.env)).forEach(out);
    process.exitCode = result.interrupted ? ExitCode.interrupted : ExitCode.ok;
  } finally {
    progress.stop();
    removeHandlers();
  }
}
