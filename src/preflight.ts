/**
 * The checks that must pass before the storage is scanned or GitLab is asked anything:
 * a readable registry storage root, and no metadata database (GITLAB.md §7).
 */
import { type DatabaseEvidence, decideDatabaseGuard } from "./core/database-guard.js";
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

/** What a passed preflight leaves to check once the registry answers an authenticated ping. */
export interface PreflightResult {
  /**
   * Throws SafetyRefusal when the pass was provisional (a lone filesystem-in-use lockfile, no
   * readable config) and the registry's `Gitlab-Container-Registry-Database-Enabled` is not false.
   */
  confirm(databaseEnabled: boolean | undefined): void;
}

/**
 * Builds the preflight. Throws when refused. It runs once: later calls return the first result,
 * so the CLI can check before prompting for a password and the cleanup can still insist on it.
 */
export function buildPreflight(subject: PreflightSubject): () => Promise<PreflightResult> {
  let result: Promise<PreflightResult> | undefined;
  return () => (result ??= check(subject));
}

async function check({ driver, reading, config: read }: PreflightSubject): Promise<PreflightResult> {
  await driver.checkRoot();
  const locks = await readLockfiles(driver);
  const evidence: DatabaseEvidence = {
    ...locks,
    reading,
    ...(read.config ? { config: read.config } : {}),
    ...(read.problem ? { configProblem: read.problem } : {}),
  };
  const decision = decideDatabaseGuard({ ...evidence, headerLater: true });
  if (!decision.ok) throw new SafetyRefusal(`${decision.reason} Nothing was deleted.`);
  return {
    confirm(databaseEnabled) {
      if (!decision.awaitsHeader) return;
      const final = decideDatabaseGuard({ ...evidence, ...(databaseEnabled === undefined ? {} : { liveHeader: databaseEnabled }) });
      if (!final.ok) throw new SafetyRefusal(`${final.reason} Nothing was deleted.`);
    },
  };
}
