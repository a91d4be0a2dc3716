/** The port through which the cleanup reads registry storage. It never writes. */
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { RepositorySnapshot, Revision, StorageWarning, TagState } from "../core/types.js";
import type { ChangeWatch } from "./change-watch.js";
import type { RepositoryWatch } from "./push-watch.js";

/** What {@link StorageReader.statRevisions} finds: revision directories, and the live links' mtimes. */
export interface RevisionStats {
  /** Every digest with a directory under `_manifests/revisions`, live or not. */
  directories: Digest[];
  /** The revisions whose link file exists, with its mtime (as `readRepository` reports it). */
  links: Array<Pick<Revision, "digest" | "linkedAt">>;
}

export interface StorageReader {
  /** Where the storage is, for messages: a folder such as /var/opt/gitlab/gitlab-rails/shared/registry, or s3://bucket/prefix. */
  readonly location: string;
  /** How many repositories a scan should read at once (StorageDriver.repositoriesAtOnce); 8 when unset. */
  readonly repositoriesAtOnce?: number;
  /**
   * Every repository (a directory holding `_manifests`), in sorted order, streamed as found.
   * Directories whose path breaks the name grammar are reported through `onWarning` and skipped.
   */
  listRepositories(onWarning: (warning: StorageWarning) => void): AsyncIterable<RepositoryName>;
  /** Revisions (with parsed manifests), tags and warnings of one repository. */
  readRepository(name: RepositoryName): Promise<RepositorySnapshot>;
  /** Only the tags, re-read right before deleting. */
  readTags(name: RepositoryName): Promise<TagState>;
  /** True while the revision link of `digest` exists in the repository. */
  hasRevision(name: RepositoryName, digest: Digest): Promise<boolean>;
  /** The exact bytes of a blob (a manifest), for the journal. */
  readBlob(digest: Digest): Promise<Buffer>;
  /**
   * Digests that have a directory under `_manifests/revisions`, live or not (a delete leaves the
   * directory behind): a cheap way to notice, between batches of deletes, that something was
   * pushed. Optional: without it only tag changes trigger a re-plan.
   */
  listRevisionDigests?(name: RepositoryName): Promise<Digest[]>;
  /**
   * The revision directories and one stat per revision link, without reading a manifest: right
   * before deleting, the cheap way to learn that a repository is unchanged since it was scanned.
   * Throws when something cannot be looked at. Optional: without it the repository is read again.
   */
  statRevisions?(name: RepositoryName): Promise<RevisionStats>;
  /**
   * Starts watching the repository for pushes while its deletes are in flight (push-watch.ts).
   * Optional, and undefined from a storage that cannot tell (object storage).
   */
  watchRepository?(name: RepositoryName, now: () => number): RepositoryWatch | undefined;
  /**
   * Starts watching the repository's tags (these, and any that appear) and revision folders, so
   * that a re-check between batches can tell nothing changed without reading (change-watch.ts).
   * Optional, and undefined from a storage that cannot tell.
   */
  watchChanges?(name: RepositoryName, tags: Iterable<string>): ChangeWatch | undefined;
  /** Every blob in the blob store with its size (what garbage collection sweeps), in digest order. */
  listBlobs(onWarning: (warning: StorageWarning) => void): AsyncIterable<{ digest: Digest; size: number }>;
}
