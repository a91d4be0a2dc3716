/**
 * Preflight of the storage root: everything that would make the whole scan meaningless is a
 * UsageError here, before any repository is read. Read-only, like the reader.
 */
import { join } from "node:path";
import { UsageError } from "../core/errors.js";
import { V2_PATH_ELEMENTS } from "./layout.js";
import { type StorageFs, errorCode, isMissing, isPermissionDenied, nodeStorageFs } from "./storage-fs.js";

/** Where omnibus keeps the registry storage, for messages. */
export const OMNIBUS_STORAGE_ROOT = "/var/opt/gitlab/gitlab-rails/shared/registry";

const REPOSITORIES_SUBPATH = [...V2_PATH_ELEMENTS, "repositories"].join("/");

/**
 * Checks that `root` is a readable registry storage root, i.e. that
 * `<root>/docker/registry/v2/repositories` exists and can be listed.
 * Throws UsageError saying what is wrong and what to do; `fs` is injectable for tests.
 */
export async function checkStorageRoot(root: string, fs: StorageFs = nodeStorageFs): Promise<void> {
  const rootStats = await statOrExplain(fs, root, root);
  if (!rootStats.isDirectory()) {
    throw new UsageError(`Storage path ${root} is not a directory. ${passRootHint()}`);
  }
  let path = root;
  // Step by step, so a refusal names the first element that is missing or closed to us.
  for (const element of [...V2_PATH_ELEMENTS, "repositories"]) {
    const parent = path;
    path = join(path, element);
    // The parent was reachable a moment ago, so EACCES here means we may not enter the parent.
    const stats = await statOrExplain(fs, path, root, parent);
    if (!stats.isDirectory()) throw notARegistry(root, path);
  }
  try {
    await fs.probeDir(path);
  } catch (error) {
    throw explain(error, path, root);
  }
}

async function statOrExplain(
  fs: StorageFs,
  path: string,
  root: string,
  closedDir = path,
): Promise<{ isDirectory(): boolean }> {
  try {
    return await fs.stat(path);
  } catch (error) {
    throw explain(error, path, root, closedDir);
  }
}

/** `closedDir` is the directory to name when permission is denied. */
function explain(error: unknown, path: string, root: string, closedDir = path): UsageError {
  if (isPermissionDenied(error)) {
    return new UsageError(
      `Permission denied reading ${closedDir}. The registry storage belongs to the registry user with mode 0770, ` +
        "so reading it needs root: run the tool with sudo.",
      { cause: error },
    );
  }
  if (isMissing(error)) {
    if (path === root) {
      return new UsageError(`Storage path ${root} does not exist. ${passRootHint()}`, { cause: error });
    }
    return notARegistry(root, path, error);
  }
  return new UsageError(
    `Could not read ${path} (${errorCode(error) ?? String(error)}). Check the storage path and that the filesystem is mounted.`,
    { cause: error },
  );
}

function notARegistry(root: string, path: string, cause?: unknown): UsageError {
  return new UsageError(
    `${root} is not a registry storage root: ${path} is missing or not a directory (expected ` +
      `${join(root, REPOSITORIES_SUBPATH)}). ${passRootHint()}`,
    cause === undefined ? undefined : { cause },
  );
}

function passRootHint(): string {
  return `Pass the registry's storage root with -p/--registry-path (omnibus: ${OMNIBUS_STORAGE_ROOT}).`;
}
