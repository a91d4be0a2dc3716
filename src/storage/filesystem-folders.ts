/**
 * The folder reads the filesystem driver's walks are made of, in its key terms (a `prefix` ends
 * with `/`): a folder's entries, a folder with its files stat'ed, a slice of stats, and one file in
 * every subfolder. A missing folder reads as empty and a missing file as absent; any other failure
 * is a StorageReadError. Through the worker pool's batched calls when the StorageFs has them.
 */
import { describeStorageError, StorageReadError, type StoredObject } from "./driver.js";
import { pathOf } from "./layout.js";
import { mapLimit } from "./map-limit.js";
import { type NamedBelow, namedBelowVia } from "./named-below.js";
import type { BatchedStorageFs } from "./pooled-storage-fs.js";
import { type DirEntry, type FileStats, type StorageFs, describeFsError, isMissing, isPermissionDenied } from "./storage-fs.js";

/** One directory read: its files (stat'ed) and its subdirectories, each sorted by name. */
export interface Level {
  files: StoredObject[];
  dirs: string[];
}

export class FolderReads {
  constructor(
    private readonly root: string,
    private readonly fs: StorageFs,
    /** Files stat'ed in flight when the StorageFs has no batches. */
    private readonly concurrency: number,
  ) {}

  /** The object of `key`, stat'ed; undefined when it does not exist or is a folder. */
  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const stats = await this.fs.stat(pathOf(this.root, key));
      return stats.isDirectory() ? undefined : { key, size: stats.size, modifiedMs: stats.mtimeMs };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw readError(error);
    }
  }

  /** `name` in every subfolder of the folder of `prefix`, stat'ed; none when the folder does not exist. */
  async namedBelow(prefix: string, name: string): Promise<NamedBelow> {
    const path = pathOf(this.root, prefix.slice(0, -1));
    try {
      return await (isBatched(this.fs) ? this.fs.statNamedBelow(path, name) : namedBelowVia(this.fs, path, name, this.concurrency));
    } catch (error) {
      if (isMissing(error)) return { count: 0, names: Buffer.alloc(0), stats: new Float64Array(0), problems: new Map() };
      throw readError(error);
    }
  }

  /** A directory's files with their stats and its subdirectories; symbolic links are not followed. */
  async readLevel(prefix: string): Promise<Level> {
    const dirs: string[] = [];
    const files: string[] = [];
    for (const entry of await this.readDir(prefix)) {
      if (entry.isSymbolicLink()) continue;
      (entry.isDirectory() ? dirs : files).push(entry.name);
    }
    return { dirs: dirs.sort(compare), files: await this.statFiles(prefix, files.sort(compare)) };
  }

  /** Stats the files of a listing; one that cannot be stat'ed is listed with its problem. */
  async statFiles(prefix: string, names: string[]): Promise<StoredObject[]> {
    if (isBatched(this.fs)) return this.statBatch(prefix, names);
    const stats = await mapLimit(names, this.concurrency, async (name): Promise<StoredObject | undefined> => {
      const key = `${prefix}${name}`;
      try {
        return await this.stat(key);
      } catch (error) {
        return { key, size: 0, modifiedMs: 0, problem: describeStorageError(error) };
      }
    });
    return stats.filter((stat) => stat !== undefined);
  }

  /** statFiles in one batch: a whole folder of revision links or a slice of blobs, one message. */
  private async statBatch(prefix: string, names: string[]): Promise<StoredObject[]> {
    const fs = this.fs as BatchedStorageFs;
    const stats = await fs.statMany(names.map((name) => pathOf(this.root, `${prefix}${name}`)));
    const objects: StoredObject[] = [];
    stats.forEach((stat: FileStats | Error, i) => {
      const key = `${prefix}${names[i]!}`;
      if (!(stat instanceof Error)) {
        if (!stat.isDirectory()) objects.push({ key, size: stat.size, modifiedMs: stat.mtimeMs });
      } else if (!isMissing(stat)) {
        objects.push({ key, size: 0, modifiedMs: 0, problem: readError(stat).message });
      }
    });
    return objects;
  }

  /** The entries of the directory of `prefix`; none when it does not exist. */
  async readDir(prefix: string): Promise<DirEntry[]> {
    const path = prefix === "" ? this.root : pathOf(this.root, prefix.slice(0, -1));
    try {
      return await this.fs.listDir(path);
    } catch (error) {
      if (isMissing(error)) return [];
      throw readError(error);
    }
  }
}

function isBatched(fs: StorageFs): fs is BatchedStorageFs {
  return "statMany" in fs;
}

export function readError(error: unknown): StorageReadError {
  return new StorageReadError(describeFsError(error), isPermissionDenied(error), { cause: error });
}

/** Plain code-unit order, the order S3 lists keys in. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
