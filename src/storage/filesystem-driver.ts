/**
 * The filesystem backend of the storage driver port: keys are file paths below the storage root
 * (what distribution's `filesystem` driver writes). Read-only, through storage-fs.ts.
 */
import type { Listing, StorageDriver, StorageWatch, StoredContent, StoredObject } from "./driver.js";
import { compare, FolderReads, type Level, readError } from "./filesystem-folders.js";
import { listFolderNow, readFileNow, watchFolder, watchSeesEveryWrite } from "./filesystem-watch.js";
import { pathOf } from "./layout.js";
import type { NamedBelow } from "./named-below.js";
import { pooledStorageFs } from "./pooled-storage-fs.js";
import { isMissing, type StorageFs } from "./storage-fs.js";
import { checkStorageRoot } from "./storage-root.js";

/** Options of {@link FilesystemDriver}. */
export interface FilesystemDriverOptions {
  /** Files stat'ed in flight per directory, and directories read ahead while walking. Default 32. */
  concurrency?: number;
  /**
   * Filesystem access; tests inject failures here. Defaults to the real, read-only one, whose
   * calls run batched in worker threads (pooled-storage-fs.ts).
   */
  fs?: StorageFs;
}

/**
 * Files stat'ed together when a shape names them: a blob store's two-hex folder holds thousands;
 * a slice at a time keeps what is read young for the garbage collector and the disk busy.
 */
const STAT_SLICE = 512;

/**
 * Folders listed and stat'ed ahead of the one being consumed by namedBelowFolders: enough to keep
 * the worker threads busy while the consumer works, few enough that what they hold (~4,000
 * objects a folder on L) dies young.
 */
const FOLDERS_AHEAD = 2;

/**
 * Repositories a scan reads at once. The worker threads run every read of a turn, so more in
 * flight no longer makes the disk busier; it only holds more of the scan alive in the heap.
 * Measured with the dry run: L peaked at 277-300 MB with 4 against 307-364 MB with 8, in the
 * same time (43 s); M warm took 4.5 s with either, cold 0.38x of the synchronous walk with 4.
 * With 2, M cold took 0.55x instead of 0.40x.
 */
const REPOSITORIES_AT_ONCE = 4;

/**
 * Reads a repository's scan issues at once through the worker pool (and folders the walk of the
 * repositories lists ahead): all of M's ~100 manifests of a repository in one turn, so one
 * message. The pool runs a turn's calls one after another in its threads, so this bounds no disk
 * queue, only how many calls a message carries; each message
 * costs the main thread ~140 µs here (a --cpu-prof of the dry run of M). With 32, the dry run of
 * M sent 4,795 messages; with 256, 2,315, and took 2.58x of the synchronous walk instead of 2.70x,
 * CPU 4.8 s instead of 5.3 s, peak RSS 158 MB instead of 182 MB. Only over the pool: through
 * libuv each read in flight holds a file open.
 */
const POOLED_READS_AT_ONCE = 256;

/** A registry storage root on a local (or mounted) filesystem. */
export class FilesystemDriver implements StorageDriver {
  readonly location: string;
  readonly repositoriesAtOnce = REPOSITORIES_AT_ONCE;
  readonly readsAtOnce?: number;
  private readonly fs: StorageFs;
  private readonly concurrency: number;
  private readonly folders: FolderReads;

  constructor(
    readonly root: string,
    options: FilesystemDriverOptions = {},
  ) {
    this.location = root;
    this.fs = options.fs ?? pooledStorageFs();
    if (options.fs === undefined) this.readsAtOnce = POOLED_READS_AT_ONCE;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 32));
    this.folders = new FolderReads(root, this.fs, this.concurrency);
  }

  describe(key: string): string {
    return pathOf(this.root, key);
  }

  watch(prefix: string, onChange: (name: string, change: "written" | "renamed") => void): StorageWatch {
    return watchFolder(pathOf(this.root, prefix.replace(/\/$/, "")), onChange);
  }

  private everyWriteSeen: boolean | undefined;

  get watchSeesEveryWrite(): boolean {
    return (this.everyWriteSeen ??= watchSeesEveryWrite(this.root));
  }

  readNow(key: string, maxBytes: number): Buffer | undefined {
    return readFileNow(pathOf(this.root, key), maxBytes);
  }

  listNow(prefix: string): string[] | undefined {
    return listFolderNow(pathOf(this.root, prefix.replace(/\/$/, "")));
  }

  checkRoot(): Promise<void> {
    return checkStorageRoot(this.root, this.fs);
  }

  async list(prefix: string): Promise<Listing> {
    const entries = await this.folders.readDir(prefix);
    const listing: Listing = { prefixes: [], objects: [], others: [] };
    const files: string[] = [];
    for (const entry of entries) {
      if (entry.isSymbolicLink()) listing.others.push({ name: entry.name, what: "symbolic link" });
      else if (entry.isDirectory()) listing.prefixes.push(entry.name);
      else files.push(entry.name);
    }
    listing.prefixes.sort(compare);
    listing.objects = await this.folders.statFiles(prefix, files.sort(compare));
    return listing;
  }

  /**
   * Depth first in key order (`a-b` before `a/`), subdirectories read ahead. With a shape, only
   * the folders it allows are listed and its last part, when a name, is stat'ed directly: a
   * revision link or blob costs one stat, not a listing of its folder and a stat.
   */
  async *listObjects(prefix: string, shape?: readonly string[]): AsyncGenerator<StoredObject> {
    if (shape === undefined || shape.length === 0) yield* this.walk(prefix, await this.folders.readLevel(prefix));
    else yield* this.walkShape(prefix, shape);
  }

  async get(key: string, maxBytes?: number): Promise<StoredContent | { tooLarge: number } | undefined> {
    const path = pathOf(this.root, key);
    try {
      if (maxBytes === undefined) return { bytes: await this.fs.readFile(path) };
      const read = await this.fs.readSmallFile(path, maxBytes);
      if (read.bytes === undefined) return { tooLarge: read.stats.size };
      return { bytes: read.bytes, modifiedMs: read.stats.mtimeMs };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw readError(error);
    }
  }

  stat(key: string): Promise<StoredObject | undefined> {
    return this.folders.stat(key);
  }

  private async *walk(prefix: string, level: Level): AsyncGenerator<StoredObject> {
    // Subdirectories are read `concurrency` ahead of the one being walked: enough to keep the disk
    // busy, while a blob store's folders of thousands of names are held only a few at a time.
    const ahead: Array<Promise<Level> | undefined> = [];
    const start = (i: number): void => {
      if (i >= level.dirs.length || ahead[i] !== undefined) return;
      const read = this.folders.readLevel(`${prefix}${level.dirs[i]!}/`);
      // Observed here so that a failure ahead of a walk that already stopped is no unhandled rejection.
      read.catch(() => undefined);
      ahead[i] = read;
    };
    for (let i = 0; i < this.concurrency; i++) start(i);
    // A file `x` sorts before a directory `x/…` only by its key: merge the two sorted lists.
    let file = 0;
    for (let i = 0; i < level.dirs.length; i++) {
      start(i + this.concurrency);
      const dirKey = `${prefix}${level.dirs[i]!}/`;
      while (file < level.files.length && level.files[file]!.key < dirKey) yield level.files[file++]!;
      const child = await ahead[i]!;
      ahead[i] = undefined;
      yield* this.walk(dirKey, child);
    }
    while (file < level.files.length) yield level.files[file++]!;
  }

  private async *walkShape(prefix: string, shape: readonly string[]): AsyncGenerator<StoredObject> {
    const [part, ...rest] = shape as [string, ...string[]];
    if (rest.length === 0) {
      if (part === "*") yield* (await this.folders.readLevel(prefix)).files;
      else yield* await this.folders.statFiles(prefix, [part]);
      return;
    }
    if (part !== "*") return yield* this.walkShape(`${prefix}${part}/`, rest);
    // Every key below has the same depth: folders in the order of `name/`, which is key order.
    const dirs = (await this.folders.readLevel(prefix)).dirs.sort((a, b) => compare(`${a}/`, `${b}/`));
    const [next, ...deeper] = rest as [string, ...string[]];
    if (deeper.length === 0 && next !== "*") {
      // The folders just above the named objects: stat them a slice at a time, in order.
      for (let start = 0; start < dirs.length; start += STAT_SLICE) {
        yield* await this.folders.statFiles(prefix, dirs.slice(start, start + STAT_SLICE).map((dir) => `${dir}/${next}`));
      }
      return;
    }
    const [, last] = rest;
    if (rest.length === 2 && next === "*" && last !== "*") return yield* this.namedBelowFolders(prefix, dirs, last!);
    for (const dir of dirs) yield* this.walkShape(`${prefix}${dir}/`, rest);
  }

  /**
   * `<name>` in every folder of every folder in `dirs` (the blob store's two-hex folders): each folder is
   * listed and its objects stat'ed while the ones before it are consumed. One folder after
   * another, each waiting for its listing and then its stats, left the walk of M's blob store
   * idle half the time (docs/performance.md, the fifth session). A folder waits packed, and its
   * objects are made as they are consumed (named-below.ts).
   */
  private async *namedBelowFolders(prefix: string, dirs: string[], name: string): AsyncGenerator<StoredObject> {
    const load = (dir: string): Promise<NamedBelow> => this.folders.namedBelow(`${prefix}${dir}/`, name);
    const ahead: Array<Promise<NamedBelow> | undefined> = [];
    const start = (i: number): void => {
      if (i >= dirs.length || ahead[i] !== undefined) return;
      const loading = load(dirs[i]!);
      // Observed here so that a failure ahead of a walk that already stopped is no unhandled rejection.
      loading.catch(() => undefined);
      ahead[i] = loading;
    };
    for (let i = 0; i < dirs.length; i++) {
      for (let j = i; j <= i + FOLDERS_AHEAD; j++) start(j);
      const { count, names, stats, problems } = await ahead[i]!;
      ahead[i] = undefined;
      const folder = `${prefix}${dirs[i]!}/`;
      for (let j = 0, at = 0; j < count; j++) {
        const end = j === count - 1 ? names.length : names.indexOf(0, at);
        const key = `${folder}${names.toString("utf8", at, end)}/${name}`;
        at = end + 1;
        const problem = problems.get(j);
        if (problem === undefined) yield { key, size: stats[2 * j]!, modifiedMs: stats[2 * j + 1]! };
        else yield { key, size: 0, modifiedMs: 0, problem: readError(problem).message };
      }
    }
  }

}

