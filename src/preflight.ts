/**
 * The checks that must pass before the storage is scanned or GitLab is asked anything:
 * a readable registry storage root, and no metadata database (GITLAB.md §7).
 */
import { decideDatabaseGuard } from "./core/database-guard.js";
import { SafetyRefusal } from "./core/errors.js";
import type { StorageDriver } from "./storage/driver.js";
import { type RegistryConfigRead, readLockfiles } from "./storage/registry-config.js";

/** What the preflight looks at: the storage (and which driver's layout it is), and the registry config as read. */
export interface PreflightSubject {
  driver: StorageDriver;
  /** The registry config's storage driver name the storage is read as (`filesystem`, `s3`). */
  reading: string;
  config: RegistryConfigRead;
}

/**
 * Builds the preflight. Throws when refused. It runs once: later calls return the first result,
 * so the CLI can check before prompting for a password and the cleanup can still insist on it.
 */
export function buildPreflight(subject: PreflightSubject): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= check(subject));
}

async function check({ driver, reading, config: read }: PreflightSubject): Promise<void> {
  await driver.checkRoot();
  const locks = await readLockfiles(driver);
  const decision = decideDatabaseGuard({
    ...locks,
    reading,
    ...(read.config ? { config: read.config } : {}),
    ...(read.problem ? { configProblem: read.problem } : {}),
  });
  if (!decision.ok) throw new SafetyRefusal(`${decision.reason} Nothing was deleted.`);
}
