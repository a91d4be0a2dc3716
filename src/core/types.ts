/**
 * The data that flows through a cleanup: what the storage holds (snapshot), and what the
 * plan decides for every manifest, each decision with its reason.
 */
import type { Digest } from "./digest.js";
import type { ParsedManifest } from "./manifest.js";
import type { RunPolicy } from "./policy.js";
import type { RepositoryName } from "./repository-name.js";
import type { ProtectedPattern, TagDecisions } from "./retention.js";

/** Something on disk that could not be used, named by its path. Never fatal. */
export interface StorageWarning {
  path: string;
  message: string;
  /**
   * A directory that could not be listed (permissions, I/O): the repositories or revisions in it
   * were not read, so not cleaned. Something was not done: the run exits 1 (cli/exit-code.ts).
   */
  unread?: true;
}

/** One `_manifests/revisions/<alg>/<hex>/link`: a manifest pushed to this repository. */
export interface Revision {
  digest: Digest;
  /** mtime of the revision link file, in ms since the epoch: when it was (last) pushed. */
  linkedAt: number;
  /** The parsed manifest blob; absent when it could not be read or parsed (see `problem`). */
  manifest?: ParsedManifest;
  /** Size in bytes of the manifest blob, when it could be read. */
  manifestSize?: number;
  /** Why the manifest could not be read or parsed. */
  problem?: string;
}

/** A tag whose `current/link` exists but does not hold a digest. */
export interface UnreadableTag {
  tag: string;
  path: string;
  problem: string;
}

/** The tags of a repository as the storage holds them right now. */
export interface TagState {
  /** tag -> digest its `current/link` points at. */
  tags: Map<string, Digest>;
  /**
   * tag -> when it was last pointed at its digest (its `current/link`'s modification time, ms),
   * where the storage told it. Retention rules date tags by it; a tag without one is never expired.
   */
  tagPushedAt?: Map<string, number>;
  unreadableTags: UnreadableTag[];
}

/** Everything the plan needs to know about one repository. */
export interface RepositorySnapshot extends TagState {
  name: RepositoryName;
  revisions: Revision[];
  warnings: StorageWarning[];
}

/** Why a manifest is kept. */
export type KeepReason =
  | { kind: "tagged"; tags: string[] }
  | { kind: "index-child"; parent: Digest }
  | { kind: "referrer"; subject: Digest }
  | { kind: "too-young"; ageMs: number }
  | { kind: "unreadable"; problem: string }
  | { kind: "repository-unsafe"; problem: string };

export type KeepReasonKind = KeepReason["kind"];

export interface KeptManifest {
  digest: Digest;
  reason: KeepReason;
}

/** An untagged manifest that nothing kept references: the plan deletes it. */
export interface Candidate {
  digest: Digest;
  mediaType: string;
  /** ms since the revision link was written. */
  ageMs: number;
  /** The blobs garbage collection keeps for it (itself, children, config, layers): see core/space.ts. */
  blobs: Digest[];
  /** The tags this run's retention deletes that pointed at it: why it is untagged now. */
  untaggedBy?: string[];
}

/** The decisions for one repository. Every revision is either kept or a candidate. */
export interface RepositoryPlan {
  name: RepositoryName;
  /** The tags on disk when planned, for the cross-check against the live registry. */
  tags: Map<string, Digest>;
  /** What tag retention decided, tag by tag; absent when no retention rule applies here. */
  tagDecisions?: TagDecisions;
  kept: KeptManifest[];
  /** Candidates, planned as if the tags retention deletes were gone already. */
  candidates: Candidate[];
  warnings: StorageWarning[];
}

export interface PlanOptions {
  /** The current time in ms since the epoch (injected: the core reads no clock). */
  now: number;
  /** The run's rules: the grace period, the repository filters, tag retention. */
  policy: RunPolicy;
  /**
   * For a re-plan during the run: manifests linked after this time (ms since the epoch) were
   * pushed during the run, so they and what they list or sign are kept whatever the grace period.
   */
  since?: number;
  /** Patterns that protect tags of this repository from retention (GitLab's protection rules). */
  protectedTags?: readonly ProtectedPattern[];
  /**
   * False once the repository's tags have been dealt with: tag decisions are made once, before a
   * repository's deletes, and the re-plans after them plan its manifests only. Default true.
   */
  retention?: boolean;
}
