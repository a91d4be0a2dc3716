/**
 * The metadata-database guard (GITLAB.md §7). With the metadata database, the `_manifests` tree
 * on disk is stale: a disk-based cleanup would see tagged images as untagged and delete them.
 * Pure: the caller gathers the evidence (lockfiles, config, live header) and passes it in.
 */

/** `database.enabled` of the registry config: `prefer` lets the lockfiles decide. */
export type DatabaseSetting = true | false | "prefer" | undefined;

/** What the registry config says, as far as the guard cares. */
export interface RegistryConfigFacts {
  databaseEnabled: DatabaseSetting;
  /** The storage driver key (`filesystem`, `s3`, `gcs`…), when the config names one. */
  storageDriver?: string;
}

/** Everything known about the registry's metadata store. */
export interface DatabaseEvidence {
  /** `<root>/docker/registry/lockfiles/database-in-use` exists. */
  databaseInUseLock: boolean;
  /** `<root>/docker/registry/lockfiles/filesystem-in-use` exists (registry v4.11 and later). */
  filesystemInUseLock: boolean;
  /** The parsed registry config, when it could be read. */
  config?: RegistryConfigFacts;
  /** Why the config could not be used (missing, unreadable, invalid). Never its content. */
  configProblem?: string;
  /** `Gitlab-Container-Registry-Database-Enabled` from an authenticated `GET /v2/`, if known. */
  liveHeader?: boolean;
  /** The storage driver whose layout the tool reads (`filesystem`, `s3`). Default `filesystem`. */
  reading?: string;
  /**
   * The registry's header will be asked before anything is deleted (the preflight runs before
   * credentials exist): a lone filesystem-in-use lockfile then passes provisionally.
   */
  headerLater?: boolean;
}

/**
 * The decision: go on (with the evidence, for the log) or refuse (with the reason, for people).
 * `awaitsHeader`: only provisionally; decide again with the registry's header before deleting.
 */
export type GuardDecision = { ok: true; evidence: string; awaitsHeader?: true } | { ok: false; reason: string };

const LOCKFILES = "docker/registry/lockfiles";

/** Why refusing matters, appended to every database refusal. */
export const DATABASE_CONSEQUENCE =
  "With the metadata database the registry keeps tags and manifests in PostgreSQL and the _manifests tree " +
  "in the storage is stale, so a cleanup that reads the storage would take tagged images for untagged ones and delete " +
  "them. The registry's online garbage collection already removes untagged manifests in that mode: this " +
  "tool is not needed there.";

const CONFIG_HINT =
  "Pass the registry config with --registry-config <path> (omnibus default: /var/opt/gitlab/registry/config.yml), " +
  "and run as root so the storage lockfiles and the config can be read.";

/** Decides whether a disk-based cleanup is safe. Refusals come first; any one of them is enough. */
export function decideDatabaseGuard(evidence: DatabaseEvidence): GuardDecision {
  const refusal = findRefusal(evidence);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  const support = supportingEvidence(evidence);
  if (support.length === 0) {
    const configPart = evidence.configProblem ? ` The registry config could not be used: ${evidence.configProblem}.` : "";
    return {
      ok: false,
      reason:
        "Cannot tell whether the registry uses its metadata database: there is no filesystem-in-use lockfile in " +
        `${LOCKFILES} and no readable registry config.${configPart} ${CONFIG_HINT} ` +
        DATABASE_CONSEQUENCE,
    };
  }
  if (loneLockfile(evidence)) {
    if (!evidence.headerLater) return { ok: false, reason: loneLockfileReason(evidence) };
    return { ok: true, evidence: support.join("; "), awaitsHeader: true };
  }
  return { ok: true, evidence: support.join("; ") };
}

/**
 * Only the filesystem-in-use lockfile vouches: registries migrated to the metadata database
 * before GitLab 18.8 often kept it stale, with no database-in-use (GITLAB.md §13).
 */
function loneLockfile(evidence: DatabaseEvidence): boolean {
  return evidence.filesystemInUseLock && evidence.config === undefined && evidence.liveHeader !== false;
}

function loneLockfileReason(evidence: DatabaseEvidence): string {
  const configPart = evidence.configProblem ? `: ${evidence.configProblem}` : "";
  return (
    `Only the lockfile ${LOCKFILES}/filesystem-in-use says the registry keeps its metadata in the storage, and ` +
    `the registry config could not be used${configPart}. A registry migrated to the metadata database before ` +
    "GitLab 18.8 often keeps that lockfile stale, and the registry did not answer " +
    `Gitlab-Container-Registry-Database-Enabled: false. ${CONFIG_HINT} ${DATABASE_CONSEQUENCE}`
  );
}

function findRefusal(evidence: DatabaseEvidence): string | undefined {
  const { config } = evidence;
  if (evidence.databaseInUseLock) {
    return `The lockfile ${LOCKFILES}/database-in-use exists: the registry uses its metadata database. ${DATABASE_CONSEQUENCE}`;
  }
  if (evidence.liveHeader === true) {
    return `The registry answers Gitlab-Container-Registry-Database-Enabled: true. ${DATABASE_CONSEQUENCE}`;
  }
  if (config?.databaseEnabled === true) {
    return `The registry config sets database.enabled: true. ${DATABASE_CONSEQUENCE}`;
  }
  if (config?.databaseEnabled === "prefer" && !evidence.filesystemInUseLock) {
    return (
      "The registry config sets database.enabled: prefer and there is no filesystem-in-use lockfile in " +
      `${LOCKFILES}, so the registry uses (or will use on its next start) its metadata database. ${DATABASE_CONSEQUENCE}`
    );
  }
  const reading = evidence.reading ?? "filesystem";
  if (config?.storageDriver !== undefined && config.storageDriver !== reading) {
    return (
      `The registry config uses the "${config.storageDriver}" storage driver, but the tool was told to read ` +
      `${reading === "filesystem" ? "a storage path on this machine" : `storage of the "${reading}" driver`}, ` +
      "which is then not what the registry serves."
    );
  }
  return undefined;
}

/** Facts that show filesystem metadata is in use. Called only when there is no refusal. */
function supportingEvidence(evidence: DatabaseEvidence): string[] {
  const support: string[] = [];
  if (evidence.filesystemInUseLock) support.push(`${LOCKFILES}/filesystem-in-use exists`);
  const setting = evidence.config?.databaseEnabled;
  if (evidence.config && (setting === false || setting === undefined)) {
    support.push(`the registry config has database.enabled ${setting === false ? "false" : "absent"}`);
  }
  if (evidence.liveHeader === false) support.push("the registry answers Gitlab-Container-Registry-Database-Enabled: false");
  // Only reported alongside real support: absence of database-in-use alone proves nothing (old registries).
  if (support.length > 0) support.push(`no ${LOCKFILES}/database-in-use`);
  if (support.length > 0 && evidence.configProblem) support.push(`registry config not used: ${evidence.configProblem}`);
  return support;
}
