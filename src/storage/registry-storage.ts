/**
 * The StorageReader over any storage driver: distribution's layout (revisions, tags, blobs,
 * lockfiles) read through the driver port, never knowing which backend is underneath.
 * Read-only by construction: the port has no call that writes.
 */
import { type Digest, digestFromParts } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { RepositorySnapshot, StorageWarning, TagState } from "../core/types.js";
import { listBlobs } from "./blobs.js";
import { describeStorageError, type StorageDriver, type StoredObject } from "./driver.js";
import { blobDataKey, revisionLinkKey, revisionsPrefix } from "./layout.js";
import { type ReadContext, readRevisions, REVISION_LINK_SHAPE } from "./revisions.js";
import type { RevisionStats, StorageReader } from "./storage-reader.js";
import { readTagState, tagWarnings } from "./tags.js";
import { type ChangeWatch, watchChanges } from "./change-watch.js";
import { type RepositoryWatch, watchRepository } from "./push-watch.js";
import { walkRepositories } from "./walk.js";

/** Default number of reads in flight per call. */
export const DEFAULT_READ_CONCURRENCY = 32;

/** Options of {@link RegistryStorage}. */
export interface RegistryStorageOptions {
  /**
   * Reads in flight per call (and sibling directories read ahead while listing). Default the
   * driver's `readsAtOnce`, else 32: enough to keep a disk or an object store busy without
   * exhausting file descriptors when the cleanup reads several repositories at once.
   */
  concurrency?: number;
}

/**
 * Reads a registry's storage through `driver`. Whole-root problems (missing, not a registry,
 * permission denied, wrong credentials) are the driver's `checkRoot`; everything below becomes
 * warnings, except the storage becoming unreachable as a whole, which is thrown.
 */
export class RegistryStorage implements StorageReader {
  readonly location: string;
  readonly repositoriesAtOnce?: number;
  private readonly context: ReadContext;

  constructor(
    readonly driver: StorageDriver,
    options: RegistryStorageOptions = {},
  ) {
    this.location = driver.location;
    if (driver.repositoriesAtOnce !== undefined) this.repositoriesAtOnce = driver.repositoriesAtOnce;
    const concurrency = options.concurrency ?? driver.readsAtOnce ?? DEFAULT_READ_CONCURRENCY;
    this.context = { driver, concurrency: Math.max(1, Math.floor(concurrency)) };
  }

  /** Streams repository names in string order as the storage is walked. */
  listRepositories(onWarning: (warning: StorageWarning) => void): AsyncIterable<RepositoryName> {
    return walkRepositories(this.driver, this.context.concurrency, onWarning);
  }

  /** Revisions (sorted by digest, each manifest blob read once), tags (sorted) and warnings. */
  async readRepository(name: RepositoryName): Promise<RepositorySnapshot> {
    const [scan, tags] = await Promise.all([readRevisions(this.context, name), readTagState(this.context, name)]);
    return {
      name,
      revisions: scan.revisions,
      tags: tags.tags,
      ...(tags.tagPushedAt ? { tagPushedAt: tags.tagPushedAt } : {}),
      unreadableTags: tags.unreadableTags,
      warnings: [...scan.warnings, ...tagWarnings(name, tags.unreadableTags, tags.strayEntries)],
    };
  }

  /** A watch for pushes, where the driver can watch (a filesystem). */
  watchRepository(name: RepositoryName, now: () => number): RepositoryWatch | undefined {
    return watchRepository(this.driver, name, now);
  }

  /** A watch of the tags and revision folders, where the driver can watch (a filesystem). */
  watchChanges(name: RepositoryName, tags: Iterable<string>): ChangeWatch | undefined {
    return watchChanges(this.driver, name, tags);
  }

  /** The tags as they are now; an unlistable tags directory yields an unreadable tag `*`. */
  readTags(name: RepositoryName): Promise<TagState> {
    return readTagState(this.context, name);
  }

  /**
   * True while the revision link exists. Its content is not judged here: the registry decides
   * what a DELETE does. Throws (naming the link) when existence cannot be determined.
   */
  async hasRevision(name: RepositoryName, digest: Digest): Promise<boolean> {
    const key = revisionLinkKey(name, digest);
    try {
      return (await this.driver.stat(key)) !== undefined;
    } catch (error) {
      throw new Error(`Could not check the revision link ${this.driver.describe(key)}: ${describeStorageError(error)}.`, { cause: error });
    }
  }

  /**
   * Digests with a folder under `_manifests/revisions` (on disk, deleted revisions keep theirs;
   * in a bucket they have none): the cleanup's cheap check for pushes between batches, two
   * listings. Throws when a listing fails, because a check that cannot look must not pass.
   */
  async listRevisionDigests(name: RepositoryName): Promise<Digest[]> {
    const base = revisionsPrefix(name);
    const digests: Digest[] = [];
    for (const algorithm of (await this.listOrThrow(base)).prefixes) {
      for (const hex of (await this.listOrThrow(`${base}${algorithm}/`)).prefixes) {
        const digest = digestFromParts(algorithm, hex);
        if (digest) digests.push(digest);
      }
    }
    return digests;
  }

  /**
   * The revision folders (as listRevisionDigests lists them) and the live links with their
   * modification times (floored to the millisecond like the scan's `linkedAt`), without reading
   * a manifest. Throws when a listing fails or a link cannot be looked at.
   */
  async statRevisions(name: RepositoryName): Promise<RevisionStats> {
    const base = revisionsPrefix(name);
    const [directories, links] = await Promise.all([this.listRevisionDigests(name), this.listLinks(base)]);
    return { directories, links };
  }

  private async listLinks(base: string): Promise<RevisionStats["links"]> {
    const found: Array<{ digest: Digest; object: StoredObject }> = [];
    try {
      for await (const object of this.driver.listObjects(base, REVISION_LINK_SHAPE)) {
        const digest = linkDigest(base, object);
        if (digest) found.push({ digest, object });
      }
    } catch (error) {
      throw new Error(`Could not list ${this.driver.describe(base.slice(0, -1))}: ${describeStorageError(error)}.`, { cause: error });
    }
    return found.map(({ digest, object }) => {
      if (object.problem !== undefined) throw new Error(`Could not check the revision link ${this.driver.describe(object.key)}: ${object.problem}.`);
      return { digest, linkedAt: Math.floor(object.modifiedMs) };
    });
  }

  /** The exact bytes of a blob. Throws an error naming the digest and where when unreadable. */
  async readBlob(digest: Digest): Promise<Buffer> {
    const key = blobDataKey(digest);
    let read: Awaited<ReturnType<StorageDriver["get"]>>;
    try {
      read = await this.driver.get(key);
    } catch (error) {
      throw new Error(`Could not read blob ${digest} from ${this.driver.describe(key)}: ${describeStorageError(error)}.`, { cause: error });
    }
    if (read === undefined || "tooLarge" in read) {
      throw new Error(`Could not read blob ${digest} from ${this.driver.describe(key)}: it does not exist.`);
    }
    return read.bytes;
  }

  /** Every blob in the blob store with its size, for the space estimate. */
  listBlobs(onWarning: (warning: StorageWarning) => void): AsyncIterable<{ digest: Digest; size: number }> {
    return listBlobs(this.driver, onWarning);
  }

  private async listOrThrow(prefix: string): ReturnType<StorageDriver["list"]> {
    try {
      return await this.driver.list(prefix);
    } catch (error) {
      throw new Error(`Could not list ${this.driver.describe(prefix.slice(0, -1))}: ${describeStorageError(error)}.`, { cause: error });
    }
  }
}

/** The digest of a revision link key `<base><alg>/<hex>/link`, or undefined for anything else. */
function linkDigest(base: string, object: StoredObject): Digest | undefined {
  const [algorithm = "", hex = "", file, ...deeper] = object.key.slice(base.length).split("/");
  return file === "link" && deeper.length === 0 ? digestFromParts(algorithm, hex) : undefined;
}
