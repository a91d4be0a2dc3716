/**
 * The blob store, as garbage collection sees it: every `blobs/<alg>/<2 hex>/<hex>/data`, with
 * its size on disk. Used for the space estimate; never for deciding what to delete.
 */
import { join, sep } from "node:path";
import { type Digest, digestFromParts } from "../core/digest.js";
import type { StorageWarning } from "../core/types.js";
import { blobsDir } from "./layout.js";
import { mapLimit } from "./map-limit.js";
import type { ReadContext } from "./revisions.js";
import { describeFsError, isMissing } from "./storage-fs.js";

/**
 * Blobs stat'ed and handed on together. A two-hex folder of a large store holds thousands; done
 * a slice at a time, what is read is consumed while it is young, and the garbage collector frees
 * it cheaply instead of promoting a whole folder's worth to its old generation.
 */
const SLICE = 512;

/** Streams every blob with its size, in digest order (sorted by algorithm, then hex). */
export async function* listBlobs(
  context: ReadContext,
  onWarning: (warning: StorageWarning) => void,
): AsyncGenerator<{ digest: Digest; size: number }> {
  const root = blobsDir(context.root);
  for (const algorithm of await listNames(context, root, onWarning)) {
    for (const prefix of await listNames(context, join(root, algorithm), onWarning)) {
      const folder = join(root, algorithm, prefix);
      const hexes = await listNames(context, folder, onWarning);
      for (let start = 0; start < hexes.length; start += SLICE) {
        const sizes = await mapLimit(hexes.slice(start, start + SLICE), context.concurrency, async (hex) => {
          const digest = digestFromParts(algorithm, hex);
          if (!digest) return undefined;
          // Concatenated: the parts are names just listed, and join's normalising allocates per blob.
          const path = `${folder}${sep}${hex}${sep}data`;
          try {
            return { digest, size: (await context.fs.stat(path)).size };
          } catch (error) {
            // A folder without data: an upload that never finished, or a blob being swept.
            if (!isMissing(error)) onWarning({ path, message: describeFsError(error) });
            return undefined;
          }
        });
        for (const entry of sizes) if (entry) yield entry;
      }
    }
  }
}

/** The subdirectories of `path`, sorted. */
async function listNames(context: ReadContext, path: string, onWarning: (w: StorageWarning) => void): Promise<string[]> {
  try {
    const entries = await context.fs.listDir(path);
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch (error) {
    if (!isMissing(error)) onWarning({ path, message: `cannot list the blob store: ${describeFsError(error)}` });
    return [];
  }
}
