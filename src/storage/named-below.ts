/**
 * One file of the same name in every subfolder of a folder, stat'ed: `blobs/sha256/<2 hex>/*\/data`
 * (thousands of blobs a folder on a large registry) and `_manifests/revisions/sha256/*\/link`.
 * Held packed (the folder names and a Float64Array of sizes and times) rather than as an object
 * with a key per file: the blob walk reads folders ahead, and what it holds ahead outlived the
 * young generation, so the dry run of L peaked in that walk at ~400 MB (docs/performance.md).
 */
import { mapLimit } from "./map-limit.js";
import { isMissing, type StorageFs } from "./storage-fs.js";

export interface NamedBelow {
  /** How many subfolders have the file (or could not be stat'ed). */
  count: number;
  /**
   * Their names in key order (`name/`), in UTF-8, joined by NUL. Not thousands of strings, which
   * the walk would hold ahead long enough for the young generation to promote them, nor one
   * large string, which V8 allocates in the old generation: on L that grew the main heap by
   * 50-90 MB in the blob walk.
   */
  names: Buffer;
  /** Size and mtimeMs of folder i's file at 2i and 2i + 1 (0 for a problem). */
  stats: Float64Array;
  /** Why folder i's file could not be stat'ed, by i. */
  problems: Map<number, Error>;
}

/**
 * The subfolder names of `entries`, symbolic links left out, in the order of `name/` (plain code
 * units: `a-b/` before `a/`), which is the order of the keys below them.
 */
function subfoldersInKeyOrder(entries: ReadonlyArray<{ name: string; isDirectory(): boolean; isSymbolicLink(): boolean }>): string[] {
  const keys: string[] = [];
  for (const entry of entries) if (entry.isDirectory() && !entry.isSymbolicLink()) keys.push(`${entry.name}/`);
  return keys.sort().map((key) => key.slice(0, -1));
}

/**
 * The same through any StorageFs, a call per file. A missing file (an upload that never
 * finished) and a directory of that name are left out; a folder that cannot be listed rejects.
 */
export async function namedBelowVia(fs: StorageFs, folder: string, name: string, concurrency = 32): Promise<NamedBelow> {
  const subfolders = subfoldersInKeyOrder(await fs.listDir(folder));
  const stats = await mapLimit(subfolders, concurrency, (sub) =>
    fs.stat(`${folder}/${sub}/${name}`).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))));
  const folders: string[] = [];
  const sizesAndTimes = new Float64Array(2 * subfolders.length);
  const problems = new Map<number, Error>();
  stats.forEach((stat, i) => {
    if (stat instanceof Error ? isMissing(stat) : stat.isDirectory()) return;
    const at = folders.push(subfolders[i]!) - 1;
    if (stat instanceof Error) problems.set(at, stat);
    else {
      sizesAndTimes[2 * at] = stat.size;
      sizesAndTimes[2 * at + 1] = stat.mtimeMs;
    }
  });
  return { count: folders.length, names: Buffer.from(folders.join("\0")), stats: sizesAndTimes, problems };
}
