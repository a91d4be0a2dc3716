/** What a run did, as data: the CLI renders it as text or JSON. */
import type { Digest } from "./digest.js";
import type { RepositoryName } from "./repository-name.js";
import type { GcHazard } from "./gc-hazards.js";
import type { TagKeepReasonKind } from "./retention.js";
import type { SpaceEstimate } from "./space.js";
import type { KeepReasonKind } from "./types.js";

/** Why a repository with candidates was not cleaned. */
export type SkipReason =
  /** GitLab knows no project for it (deleted, renamed, or nested too deep): no token can delete. */
  | "orphan"
  /** The credentials may not delete there (Maintainer role or admin needed). */
  | "no-permission"
  /** The live registry's tags differ from the storage: -p may not be this registry's storage. */
  | "tags-mismatch"
  /** The registry refused to list its tags, so the cross-check could not be made. */
  | "cross-check-failed"
  /**
   * The registry lists tags the storage has no tag for, each explained by what is on disk (a tag
   * directory without current/link, a file in `_manifests/tags`): fix those, then run again.
   */
  | "tags-damaged"
  /** Something else went wrong there (a read error on disk, say); the other repositories went on. */
  | "error";

export interface SkippedRepository {
  name: RepositoryName;
  reason: SkipReason;
  detail: string;
  /** Manifests that would have been deleted there. */
  candidates: number;
  /** Bytes of the distinct blobs its manifests reference (declared sizes). */
  bytes: number;
}

/**
 * A repository no GitLab project owns (GITLAB.md §3), measured so the admin can decide: no token
 * can delete in it, only recreating its project path or `registry-garbage-collect -m` reclaims it.
 */
export interface OrphanRepository {
  name: RepositoryName;
  /** Bytes on disk of the blobs only it references (after this run): what removing it would free. */
  uniqueBytes: number;
  /** Bytes on disk of the blobs it references that other repositories reference too. */
  sharedBytes: number;
  /** The newest revision link or tag link (ms since the epoch). */
  lastPushAt: number;
  manifests: number;
  tags: number;
  /** Untagged manifests nothing references: what a cleanup would delete there. */
  candidates: number;
}

export type OutcomeKind =
  | "deleted"
  | "would-delete"
  | "already-gone"
  /** PROTECTED_MANIFEST: tag protection or immutability rules forbid it. */
  | "protected"
  /** Tagged or referenced again when re-checked right before deleting. */
  | "kept-on-recheck"
  | "failed";

/** What happened to one candidate. */
export interface ManifestOutcome {
  repository: RepositoryName;
  digest: Digest;
  kind: OutcomeKind;
  detail?: string;
}

/**
 * A manifest this run deleted that a push during the run turned out to need, and what was done:
 * `restored` (put back by digest, or by each of `tags`), `failed` (could not be put back: restore
 * it from the journal), or `unresolved` (a tag vanished and what it pointed at is unknown).
 */
export interface RepairOutcome {
  repository: RepositoryName;
  /** Absent for `unresolved`. */
  digest?: Digest;
  tags: string[];
  kind: "restored" | "failed" | "unresolved";
  /** Why it was needed: `tag v2 was pushed onto it during the cleanup`. */
  reason: string;
  detail?: string;
}

/** What happened to one tag that retention planned to delete. */
export interface TagOutcome {
  repository: RepositoryName;
  tag: string;
  /** The digest the plan saw the tag on. */
  digest: Digest;
  /** When the tag was last pointed at it (ms since the epoch). */
  pushedAt: number;
  /** `kept-on-recheck`: pushed again, deleted or protected since the scan. */
  kind: OutcomeKind;
  /** Why it goes (the rules it breaks), or why it did not. */
  detail?: string;
}

/** Tag retention's counts: what it kept and why, and what it did. Absent when no rule was given. */
export interface TagReport {
  /** Tags kept by reason (`latest`, `keep-n`, `newer-than`, `name-regex-keep`, `not-matched`, `protected`). */
  kept: Record<TagKeepReasonKind, number>;
  /** Tags the plan deletes. */
  planned: number;
  outcomes: Record<OutcomeKind, number>;
}

/** A tag report with every count at zero. */
export function emptyTagReport(): TagReport {
  return {
    kept: { latest: 0, "name-regex-keep": 0, "not-matched": 0, "keep-n": 0, "newer-than": 0, protected: 0 },
    planned: 0,
    outcomes: { deleted: 0, "would-delete": 0, "already-gone": 0, protected: 0, "kept-on-recheck": 0, failed: 0 },
  };
}

/** What became of a repository the run left (a dry run: would leave) with no tag and no manifest. */
export type RepositoryOutcomeKind =
  /** GitLab accepted the delete (202): its worker finishes removing the repository later. */
  | "deleted"
  | "would-delete"
  /** GitLab lists it as being deleted already (an earlier request): nothing was sent. */
  | "already-removing"
  /** The last check before the delete found a tag or a manifest in it (pushed during the run?). */
  | "kept"
  /** GitLab has no record of it (removed before, or a project the token cannot see): nothing to delete. */
  | "not-in-gitlab"
  /** The registry token lacks delete there (the role, or no project owns it: an orphan). */
  | "no-permission"
  | "failed";

/** One repository `--delete-empty-repositories` acted on, or would have. */
export interface RepositoryOutcome {
  repository: RepositoryName;
  kind: RepositoryOutcomeKind;
  /** The GitLab project it belongs to, once found. */
  project?: string;
  /** GitLab's id of the repository (`GET /projects/:id/registry/repositories`), once found. */
  gitlabId?: number;
  detail?: string;
}

/** `--delete-empty-repositories`: counts by outcome, and each repository (few: only emptied ones). */
export interface EmptyRepositoryReport {
  outcomes: Record<RepositoryOutcomeKind, number>;
  repositories: RepositoryOutcome[];
}

/** An empty-repository report with every count at zero. */
export function emptyRepositoryReport(): EmptyRepositoryReport {
  return {
    outcomes: { deleted: 0, "would-delete": 0, "already-removing": 0, kept: 0, "not-in-gitlab": 0, "no-permission": 0, failed: 0 },
    repositories: [],
  };
}

export interface CleanupReport {
  dryRun: boolean;
  /** Repositories and manifests found on disk. */
  repositories: number;
  manifests: number;
  /** Tags found on disk (the tagged manifests are counted in `kept.tagged`). */
  tags: number;
  /** Kept manifests by reason. */
  kept: Record<KeepReasonKind, number>;
  /** Untagged, unreferenced manifests the plan found. */
  candidates: number;
  outcomes: Record<OutcomeKind, number>;
  /** Tag retention, when the run has rules. */
  tagRetention?: TagReport;
  /** `--delete-empty-repositories`, when given. */
  emptyRepositories?: EmptyRepositoryReport;
  skipped: SkippedRepository[];
  /**
   * Deleted manifests a push during the run needed, and what was done about each (repair.ts).
   * Their deletes still count in `outcomes.deleted`; a restored one frees no space.
   */
  repairs: RepairOutcome[];
  /** The skipped orphans, measured, by unique bytes (most first); absent when the run was cancelled or never asked. */
  orphans?: OrphanRepository[];
  /**
   * Whether GitLab treats the user as an instance administrator (the REST API for a token, the
   * `registry:catalog:*` scope for a password); absent when that was not asked or not known.
   */
  administrator?: boolean;
  warnings: number;
  /** Of the warnings, directories that could not be listed: what they hold was not cleaned (exit 1). */
  unreadDirectories?: number;
  /** Requests sent to GitLab's /jwt/auth. */
  tokenRequests: number;
  journalPath?: string;
  /** Set when the run stopped before the end (e.g. deletes disabled). */
  stoppedBecause?: string;
  /** The stop was a safety check's (exit 3), not the registry refusing (exit 1). */
  stoppedBySafetyCheck?: boolean;
  interrupted: boolean;
  /** The admin answered no at the confirmation. */
  cancelled: boolean;
  /**
   * Files the registry's garbage collection will stop at (core/gc-hazards.ts), each with its
   * reason and a fix; absent when the scan saw none. `--gc` refuses to start on them.
   */
  gcHazards?: GcHazard[];
  /** What garbage collection frees after this run; absent when the run was cancelled. */
  space?: SpaceEstimate;
}

/** A report with every count at zero. */
export function emptyReport(dryRun: boolean): CleanupReport {
  return {
    dryRun,
    repositories: 0,
    manifests: 0,
    tags: 0,
    kept: { tagged: 0, "index-child": 0, referrer: 0, "too-young": 0, unreadable: 0, "repository-unsafe": 0 },
    candidates: 0,
    outcomes: { deleted: 0, "would-delete": 0, "already-gone": 0, protected: 0, "kept-on-recheck": 0, failed: 0 },
    skipped: [],
    repairs: [],
    warnings: 0,
    tokenRequests: 0,
    interrupted: false,
    cancelled: false,
  };
}
