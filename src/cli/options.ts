/**
 * Flags and environment -> typed options. Pure: every invalid value becomes a UsageError that
 * names the flag and says what it accepts.
 */
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { OMNIBUS_STORAGE_ROOT } from "../storage/storage-root.js";
import { pathValue } from "./path-value.js";
import { resolvePolicyFlags, type PolicyFlags, type RawPolicyFlags } from "./policy-options.js";

/** The defaults of the original Python tool, kept for drop-in compatibility. */
export const DEFAULT_REGISTRY_PATH = OMNIBUS_STORAGE_ROOT;
export const DEFAULT_USER = "root";
export const DEFAULT_REGISTRY_CONFIG = "/var/opt/gitlab/registry/config.yml";
export const DEFAULT_MIN_AGE = "24h";
export const DEFAULT_CONCURRENCY = 8;
export const MAX_CONCURRENCY = 64;
export const DEFAULT_GC_COMMAND = "gitlab-ctl registry-garbage-collect";

/** What commander hands over (strings as typed, booleans for switches, lists for repeatable flags). */
export interface RawOptions extends RawPolicyFlags {
  gitlabServer?: string;
  registryServer?: string;
  registryPath?: string;
  storage?: string;
  s3Endpoint?: string;
  s3Region?: string;
  credentialsFile?: string;
  user?: string;
  password?: string;
  dryRun?: boolean;
  insecure?: boolean;
  minAge?: string;
  concurrency?: string;
  yes?: boolean;
  registryConfig?: string;
  caCert?: string;
  journal?: string;
  json?: boolean;
  output?: string;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
  gc?: boolean;
  gcCommand?: string;
  forceGc?: boolean;
  deleteEmptyRepositories?: boolean;
}

/** Options after validation. */
export interface ResolvedOptions {
  gitlabUrl: URL;
  registryUrl: URL;
  /** -p, when given; otherwise the registry config's rootdirectory or the omnibus default (cli/storage-backends.ts). */
  registryPath?: string;
  /** --storage: a bucket, `s3://<bucket>/<rootdirectory>`, with its endpoint and region. */
  storage?: string;
  s3Endpoint?: string;
  s3Region?: string;
  credentialsFile?: string;
  user: string;
  /** Given with --password (visible in the process list: a warning is printed). */
  password?: string;
  dryRun: boolean;
  insecure: boolean;
  minAgeMs: number;
  concurrency: number;
  yes: boolean;
  registryConfig: string;
  caCert?: string;
  journal?: string;
  /** Write the JSON document to stdout (human text then goes to stderr). */
  json: boolean;
  /** Write the JSON document to this file. */
  output?: string;
  quiet: boolean;
  verbose: boolean;
  /** False with --no-color or NO_COLOR; colour is used only on a terminal anyway. */
  color: boolean;
  /** Run garbage collection after deleting. */
  gc: boolean;
  gcCommand: string;
  /** Run garbage collection even when the scan saw files it will fail on. */
  forceGc: boolean;
  /** After the run, delete in GitLab the repositories it left with no tag and no manifest. */
  deleteEmptyRepositories: boolean;
  /** Tag retention and repository filters, validated (cli/policy-options.ts). */
  policy: PolicyFlags;
}

/** Validates raw flags. Throws UsageError on the first invalid one. */
export function resolveOptions(raw: RawOptions): ResolvedOptions {
  const insecure = raw.insecure === true;
  const resolved: ResolvedOptions = {
    gitlabUrl: parseServer(raw.gitlabServer, "-g/--gitlab-server", insecure),
    registryUrl: parseServer(raw.registryServer, "-r/--registry-server", insecure),
    user: nonEmpty(raw.user, "-u/--user") ?? DEFAULT_USER,
    dryRun: raw.dryRun === true,
    insecure,
    minAgeMs: parseMinAge(raw.minAge ?? DEFAULT_MIN_AGE),
    concurrency: parseConcurrency(raw.concurrency),
    yes: raw.yes === true,
    registryConfig: pathValue(raw.registryConfig, "--registry-config") ?? DEFAULT_REGISTRY_CONFIG,
    json: raw.json === true,
    quiet: raw.quiet === true,
    verbose: raw.verbose === true,
    color: raw.color !== false,
    gc: raw.gc === true,
    gcCommand: nonEmpty(raw.gcCommand, "--gc-command") ?? DEFAULT_GC_COMMAND,
    forceGc: raw.forceGc === true,
    deleteEmptyRepositories: raw.deleteEmptyRepositories === true,
    policy: resolvePolicyFlags(raw),
  };
  if (resolved.quiet && resolved.verbose) throw new UsageError("-q/--quiet and -v/--verbose contradict each other: pick one.");
  if (resolved.forceGc && !resolved.gc) throw new UsageError("--force-gc goes with --gc: it makes --gc run garbage collection even on files it will fail on.");
  if (resolved.gc && resolved.dryRun) throw new UsageError("--gc runs garbage collection after deleting: it makes no sense with -n/--dry-run.");
  Object.assign(resolved, resolveStorage(raw));
  const output = pathValue(raw.output, "--output");
  if (output !== undefined) resolved.output = output;
  const credentialsFile = pathValue(raw.credentialsFile, "-c/--credentials-file");
  if (credentialsFile !== undefined) resolved.credentialsFile = credentialsFile;
  if (raw.password !== undefined) resolved.password = raw.password;
  const caCert = pathValue(raw.caCert, "--ca-cert");
  if (caCert !== undefined) resolved.caCert = caCert;
  const journal = pathValue(raw.journal, "--journal");
  if (journal !== undefined) resolved.journal = journal;
  return resolved;
}

/** -p or --storage (with --s3-endpoint and --s3-region), never both. */
function resolveStorage(raw: RawOptions): Pick<ResolvedOptions, "registryPath" | "storage" | "s3Endpoint" | "s3Region"> {
  const registryPath = pathValue(raw.registryPath, "-p/--registry-path");
  const storage = nonEmpty(raw.storage, "--storage");
  const s3Endpoint = nonEmpty(raw.s3Endpoint, "--s3-endpoint");
  const s3Region = nonEmpty(raw.s3Region, "--s3-region");
  if (registryPath !== undefined && storage !== undefined) {
    throw new UsageError(
      "-p/--registry-path and --storage both name the storage: keep -p for a registry on this machine's disk, " +
        "or --storage s3://<bucket>/<rootdirectory> for a registry on S3.",
    );
  }
  if (storage !== undefined && !/^s3:\/\//i.test(storage.trim())) {
    throw new UsageError(`Invalid --storage "${storage}": it takes s3://<bucket>/<rootdirectory>; give a path on disk with -p instead.`);
  }
  if (storage === undefined && (s3Endpoint !== undefined || s3Region !== undefined)) {
    throw new UsageError(`${s3Endpoint !== undefined ? "--s3-endpoint" : "--s3-region"} goes with --storage s3://<bucket>/<rootdirectory>.`);
  }
  return {
    ...(registryPath === undefined ? {} : { registryPath }),
    ...(storage === undefined ? {} : { storage: storage.trim() }),
    ...(s3Endpoint === undefined ? {} : { s3Endpoint }),
    ...(s3Region === undefined ? {} : { s3Region }),
  };
}

/**
 * A hostname (`gitlab.example.com`, `host:8443`) or a URL. HTTPS unless the URL says `http://`,
 * which sends credentials in clear text and so needs -k/--insecure.
 */
export function parseServer(value: string | undefined, flag: string, insecure: boolean): URL {
  const text = value?.trim();
  if (!text) throw new UsageError(`Missing ${flag}: give the server's hostname or URL, e.g. ${example(flag)}.`);
  const invalid = `Invalid ${flag} "${shown(text)}": expected a hostname or an http(s) URL, e.g. ${example(flag)}.`;
  // `http:/host` or `https:host` would otherwise become a host named "http"; `host:8443` is a port.
  if (/^[a-z][a-z0-9+.-]*:(?!\/\/|\d+(?:\/|$)|$)/i.test(text)) throw new UsageError(invalid);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(invalid);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`Invalid ${flag} "${shown(text)}": only https:// and http:// are supported.`);
  }
  // `new URL` takes hosts no resolver will (`ht!tp`, `a..b`) and keeps text after the host, so
  // `ht!tp://bad host` would fail later as a network error (exit 1) instead of a usage error.
  if (/\s/.test(text) || !isUsableHost(url.hostname)) throw new UsageError(invalid);
  if (url.username || url.password) {
    throw new UsageError(`Invalid ${flag}: do not put credentials in the URL; use -u and -c instead.`);
  }
  // A bare `?` or `#` leaves search and hash empty but stays in href, where it would swallow paths.
  if (/[?#]/.test(text)) {
    throw new UsageError(`Invalid ${flag} "${shown(text)}": the URL must not have a query or fragment.`);
  }
  if (url.protocol === "http:" && !insecure) {
    throw new UsageError(
      `${flag} ${url.origin} uses plain http://, which sends ${flag.startsWith("-g") ? "the password" : "registry tokens"} unencrypted. ` +
        "Add -k/--insecure to allow it, or use https://.",
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}

/** An IP literal, or dot-separated labels of letters, digits, `-` and `_` (docker compose names). */
function isUsableHost(hostname: string): boolean {
  return hostname.startsWith("[") || /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/i.test(hostname);
}

/** The value as typed, for messages: never its user-info, query or fragment (they may hold a token). */
function shown(text: string): string {
  return text.replace(/([?#]).*$/s, "$1…").replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?.*@/is, "$1…@");
}

function example(flag: string): string {
  return flag.startsWith("-g") ? "gitlab.example.com" : "registry.example.com";
}

function parseMinAge(text: string): number {
  const ms = parseDuration(text.trim());
  if (ms === undefined) {
    throw new UsageError(`Invalid --min-age "${text}": use a duration like 24h, 30m, 7d or 1h30m (0 disables).`);
  }
  return ms;
}

function parseConcurrency(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONCURRENCY;
  // Digits only: Number() would also take "0x10", "1e1" and "".
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_CONCURRENCY) {
    throw new UsageError(`Invalid --concurrency "${text}": use a whole number from 1 to ${MAX_CONCURRENCY}.`);
  }
  return value;
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`${flag} is empty: give a value or leave the flag out.`);
  return value;
}
