/**
 * The checks that must pass before the storage is scanned or GitLab is asked anything:
 * a readable registry storage root, and no metadata database (GITLAB.md §7).
 */
import { decideDatabaseGuard } from "./core/database-guard.js";
import { SafetyRefusal } from "./core/errors.js";
import { readLockfiles, readRegistryConfig } from "./storage/registry-config.js";
import { checkStorageRoot } from "./storage/storage-root.js";

/**
 * Builds the preflight for a storage root and a registry config path. Throws when refused.
 * It runs once: later calls return the first result, so the CLI can check before prompting for
 * a password and the cleanup can still insist on it.
 */
export function buildPreflight(root: string, registryConfigPath: string): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= check(root, registryConfigPath));
}

async function check(root: string, registryConfigPath: string): Promise<void> {
  await checkStorageRoot(root);
  const [locks, read] = await Promise.all([readLockfiles(root), readRegistryConfig(registryConfigPath)]);
  const decision = decideDatabaseGuard({
    ...locks,
    ...(read.config ? { config: read.config } : {}),
    ...(read.problem ? { configProblem: read.problem } : {}),
  });
  if (!decision.ok) throw new SafetyRefusal(`${decision.reason} Nothing was deleted.`);
}
