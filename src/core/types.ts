/**
 * The data that flows through a cleanup: what the storage holds (snapshot), and what the
 * plan decides for every manifest, each decision with its reason.
 */
import type { Digest } from "./digest.js";
import type { ManifestShape, ParsedManifest } from "./manifest.js";
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
  /** What the storage showed about a file the registry's garbage collection reads (core/gc-hazards.ts judges it). */
  gc?: GcObservation;
}

/**
 * A file garbage collection reads, as the storage adapter saw it. Only facts: whether garbage
 * collection stops there, and why, is decided in core/gc-hazards.ts. Paths are as the driver
 * describes them (absolute paths on disk, `s3://bucket/key` on S3).
 */
export type GcObservation =
  /** A revision link whose content is not a digest; `content` is absent when it was too long to read. */
  | { kind: "revision-link"; repository: string; digest: Digest; content?: string }
  /** A manifest blob a revision link names, with the shape its top level had. */
  | { kind: "manifest"; repository: string; digest: Digest; link: string; shape: ManifestShape }
  /** A directory under `repositories/` whose path is not a valid repository name. */
  | { kind: "repository-name"; name: string }
  /** A tag's `current/link` whose content is not a digest (read by `-m` only). */
  | { kind: "tag-link"; repository: string; tag: string; content?: string }
  /** A file directly in `_manifests/tags`, where only tag directories belong (read by `-m` only). */
  | { kind: "tags-file"; repository: string; entry: string };

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
  /** The link's content when it was read and is not a digest at all (garbage collection's -m stops at it). */
  notDigest?: { content?: string };
}

/**
 * An entry of `_manifests/tags` that is not a tag: a file, or a tag directory without
 * `current/link` (an interrupted push or a half-deleted tag). The registry's tags/list still
 * names it, though no GET can resolve it.
 */
export interface StrayTagEntry {
  name: string;
  path: string;
  what: "file" | "no-current-link";
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
  /** Entries of `_manifests/tags` that are not tags, by name; absent when the reader did not look. */
  strayEntries?: StrayTagEntry[];
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
