/**
 * Reads the registry's config.yml and lockfiles for the metadata-database guard (GITLAB.md §7).
 * The config holds secrets (database password, HTTP secret): nothing from its content, and no
 * parser message (those quote source lines), ever reaches a problem or an error.
 */
import { parseDocument } from "yaml";
import { UsageError } from "../core/errors.js";
import type { DatabaseSetting, RegistryConfigFacts } from "../core/database-guard.js";
import { describeStorageError, StorageReadError, type StorageDriver } from "./driver.js";
import { lockfileKey, type LockfileName } from "./layout.js";
import { type StorageFs, errorCode, isMissing, isPermissionDenied, nodeStorageFs } from "./storage-fs.js";

/** What the guard and the CLI need from the registry config. */
export interface RegistryConfig extends RegistryConfigFacts {
  /** `storage.filesystem.rootdirectory`: where the registry keeps its storage. */
  rootDirectory?: string;
  /**
   * The storage driver's parameters (`storage.<driver>`), for the backend that reads them (the
   * bucket, region and keys of `s3`). May hold secrets: never printed.
   */
  storageParameters?: Record<string, unknown>;
}

/** Either the config or why it could not be used (a clause naming the file, never its content). */
export interface RegistryConfigRead {
  config?: RegistryConfig;
  problem?: string;
}

/** Keys of `storage` that configure the registry rather than name a driver. */
const NON_DRIVER_KEYS = new Set(["delete", "maintenance", "cache", "redirect", "tag"]);

/** Reads and interprets the registry config at `path` (YAML or JSON). Never throws. */
export async function readRegistryConfig(path: string, fs: StorageFs = nodeStorageFs): Promise<RegistryConfigRead> {
  let text: string;
  try {
    text = (await fs.readFile(path)).toString("utf8");
  } catch (error) {
    if (isMissing(error)) return { problem: `${path} was not found` };
    if (isPermissionDenied(error)) return { problem: `permission denied reading ${path}; run the tool with sudo` };
    if (errorCode(error) === "EISDIR") return { problem: `${path} is a directory, not the registry config file` };
    return { problem: `${path} could not be read (${errorCode(error) ?? "unknown error"})` };
  }
  return interpretConfig(path, text);
}

/** Parses config text; exported for tests. `path` is only used in problems. */
export function interpretConfig(path: string, text: string): RegistryConfigRead {
  const parsed = parseText(text);
  if (!parsed.ok) {
    return { problem: `${path} is neither valid YAML nor JSON${parsed.line === undefined ? "" : ` (line ${parsed.line})`}` };
  }
  const root = parsed.value;
  if (!isRecord(root)) return { problem: `${path} does not hold a YAML mapping` };
  const database = root.database;
  if (database !== undefined && database !== null && !isRecord(database)) {
    return { problem: `${path} has a "database" entry that is not a mapping` };
  }
  const databaseEnabled = interpretEnabled(isRecord(database) ? database.enabled : undefined);
  if (databaseEnabled === "invalid") {
    return { problem: `${path} has a database.enabled value that is neither true, false nor prefer` };
  }
  return { config: { databaseEnabled, ...storageFacts(root.storage) } };
}

type Parsed = { ok: true; value: unknown } | { ok: false; line?: number };

function parseText(text: string): Parsed {
  // YAML 1.1 like the registry's Go parser (yaml.v2), so `enabled: yes` means true here too.
  const document = parseDocument(text, { version: "1.1", prettyErrors: false });
  const parseError = document.errors[0];
  if (!parseError) {
    try {
      return { ok: true, value: document.toJS() };
    } catch {
      return { ok: false }; // alias bombs and the like
    }
  }
  // JSON that YAML rejects (tab indentation, for one) is still a valid config for the registry.
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    const line = parseError.linePos?.[0]?.line;
    return line === undefined ? { ok: false } : { ok: false, line };
  }
}

function interpretEnabled(value: unknown): DatabaseSetting | "invalid" {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === false) return value;
  if (value === "true") return true;
  if (value === "false") return false;
  if (value === "prefer") return "prefer";
  return "invalid";
}

function storageFacts(storage: unknown): Pick<RegistryConfig, "storageDriver" | "rootDirectory" | "storageParameters"> {
  if (!isRecord(storage)) return {};
  const storageDriver = Object.keys(storage).find((key) => !NON_DRIVER_KEYS.has(key));
  if (storageDriver === undefined) return {};
  const parameters = storage[storageDriver];
  if (!isRecord(parameters)) return { storageDriver };
  const rootDirectory = storageDriver === "filesystem" ? parameters.rootdirectory : undefined;
  return typeof rootDirectory === "string"
    ? { storageDriver, rootDirectory, storageParameters: parameters }
    : { storageDriver, storageParameters: parameters };
}

/** Which lockfiles exist under `docker/registry/lockfiles/`. */
export interface Lockfiles {
  databaseInUseLock: boolean;
  filesystemInUseLock: boolean;
}

/**
 * Checks the lockfiles, on whatever backend holds them (objects in the bucket on S3). Throws
 * UsageError when their existence cannot be determined: "absent" is evidence for the guard, so
 * an unreadable directory must not pass for one without them.
 */
export async function readLockfiles(driver: StorageDriver): Promise<Lockfiles> {
  const [databaseInUseLock, filesystemInUseLock] = await Promise.all([
    lockfileExists(driver, "database-in-use"),
    lockfileExists(driver, "filesystem-in-use"),
  ]);
  return { databaseInUseLock, filesystemInUseLock };
}

async function lockfileExists(driver: StorageDriver, name: LockfileName): Promise<boolean> {
  const key = lockfileKey(name);
  try {
    return (await driver.stat(key)) !== undefined;
  } catch (error) {
    const why = error instanceof StorageReadError && error.denied
      ? `${describeStorageError(error)}; the registry storage must be readable to check it`
      : describeStorageError(error);
    throw new UsageError(`Cannot check the registry lockfile ${driver.describe(key)}: ${why}.`, { cause: error });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
