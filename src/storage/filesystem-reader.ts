/**
 * StorageReader over the distribution registry's filesystem driver layout (GITLAB.md §4).
 * Read-only by construction: it only lists, stats and reads (see storage-fs.ts).
 */
import { join } from "node:path";
import { type Digest, digestFromParts } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { RepositorySnapshot, StorageWarning, TagState } from "../core/types.js";
import { listBlobs } from "./blobs.js";
import { blobDataPath, revisionLinkPath, revisionsDir } from "./layout.js";
import { type ReadContext, readRevisions } from "./revisions.js";
import { type FileStats, type StorageFs, describeFsError, isMissing, nodeStorageFs } from "./storage-fs.js";
import { mapLimit } from "./map-limit.js";
import type { RevisionStats, StorageReader } from "./storage-reader.js";
import { readTagState, tagWarnings } from "./tags.js";
import { walkRepositories } from "./walk.js";

/** Options of {@link FilesystemStorageReader}. */
export interface FilesystemReaderOptions {
  /**
   * Files read in flight per call (and sibling directories read ahead while listing).
   * Default 32: enough to keep a disk busy without exhausting file descriptors when the
   * cleanup reads several repositories at once.
   */
  concurrency?: number;
  /** Filesystem access; tests inject failures here. Defaults to the real, read-only one. */
  fs?: StorageFs;
}

/** Default number of reads in flight per call. */
export const DEFAULT_READ_CONCURRENCY = 32;

/**
 * Reads a registry storage root. Whole-root problems (missing, not a registry, permission denied)
 * are the job of `checkStorageRoot`; this reader turns everything below into warnings.
 */
export class FilesystemStorageReader implements StorageReader {
  private readonly context: ReadContext;

  constructor(
    readonly root: string,
    options: FilesystemReaderOptions = {},
  ) {
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_READ_CONCURRENCY));
    this.context = { root, fs: options.fs ?? nodeStorageFs, concurrency };
  }

  /** Streams repository names in string order as directories are walked. */
  listRepositories(onWarning: (warning: StorageWarning) => void): AsyncIterable<RepositoryName> {
    return walkRepositories(this.root, this.context.fs, this.context.concurrency, onWarning);
  }

  /** Revisions (sorted by digest, each manifest blob read once), tags (sorted) and warnings. */
  async readRepository(name: RepositoryName): Promise<RepositorySnapshot> {
    const [scan, tags] = await Promise.all([readRevisions(this.context, name), readTagState(this.context, name)]);
    return {
      name,
      revisions: scan.revisions,
      tags: tags.tags,
      unreadableTags: tags.unreadableTags,
      warnings: [...scan.warnings, ...tagWarnings(name, tags.unreadableTags)],
    };
  }

  /** The tags as they are now; an unlistable tags directory yields an unreadable tag `*`. */
  readTags(name: RepositoryName): Promise<TagState> {
    return readTagState(this.context, name);
  }

  /**
   * True while the revision link exists. Its content is not judged here: the registry decides
   * what a DELETE does. Throws (with the path) when existence cannot be determined.
   */
  async hasRevision(name: RepositoryName, digest: Digest): Promise<boolean> {
    return (await this.statLink(name, digest)) !== undefined;
  }

  /**
   * Digests with a directory under `_manifests/revisions` (deleted revisions keep theirs): the
   * cleanup's cheap check for pushes between batches. Throws when a directory cannot be listed,
   * because a check that cannot look must not pass.
   */
  async listRevisionDigests(name: RepositoryName): Promise<Digest[]> {
    const base = revisionsDir(this.root, name);
    const digests: Digest[] = [];
    for (const algorithm of await this.listNamesOrNone(base)) {
      for (const hex of await this.listNamesOrNone(join(base, algorithm))) {
        const digest = digestFromParts(algorithm, hex);
        if (digest) digests.push(digest);
      }
    }
    return digests;
  }

  /**
   * Revision directories, and the mtime of every link among them (floored to the millisecond like
   * the scan's `linkedAt`): a readdir and a stat per revision instead of reading every manifest.
   * Throws when a directory cannot be listed or a link cannot be stat'ed.
   */
  async statRevisions(name: RepositoryName): Promise<RevisionStats> {
    const directories = await this.listRevisionDigests(name);
    const stats = await mapLimit(directories, this.context.concurrency, async (digest) => {
      const link = await this.statLink(name, digest);
      return link && { digest, linkedAt: Math.floor(link.mtimeMs) };
    });
    return { directories, links: stats.filter((link) => link !== undefined) };
  }

  /** The revision link's stats, undefined when it does not exist; throws (with the path) when that cannot be told. */
  private async statLink(name: RepositoryName, digest: Digest): Promise<FileStats | undefined> {
    const path = revisionLinkPath(this.root, name, digest);
    try {
      return await this.context.fs.stat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw new Error(`Could not check the revision link ${path}: ${describeFsError(error)}.`, { cause: error });
    }
  }

  private async listNamesOrNone(dir: string): Promise<string[]> {
    try {
      return (await this.context.fs.listDir(dir)).map((entry) => entry.name);
    } catch (error) {
      if (isMissing(error)) return [];
      throw new Error(`Could not list ${dir}: ${describeFsError(error)}.`, { cause: error });
    }
  }

  /** The exact bytes of a blob. Throws an error naming the digest and path when unreadable. */
  async readBlob(digest: Digest): Promise<Buffer> {
    const path = blobDataPath(this.root, digest);
    try {
      return await this.context.fs.readFile(path);
    } catch (error) {
      throw new Error(`Could not read blob ${digest} from ${path}: ${describeFsError(error)}.`, { cause: error });
    }
  }

  /** Every blob in the blob store with its size on disk, for the space estimate. */
  listBlobs(onWarning: (warning: StorageWarning) => void): AsyncIterable<{ digest: Digest; size: number }> {
    return listBlobs(this.context, onWarning);
  }
}
