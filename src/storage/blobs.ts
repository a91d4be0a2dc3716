/**
 * The blob store, as garbage collection sees it: every `blobs/<alg>/<2 hex>/<hex>/data`, with
 * its size. Used for the space estimate; never for deciding what to delete.
 */
import { type Digest, digestFromParts } from "../core/digest.js";
import type { StorageWarning } from "../core/types.js";
import { describeStorageError, type StorageDriver } from "./driver.js";
import { BLOBS_PREFIX } from "./layout.js";
import { rethrowUnavailable } from "./link-file.js";

/** Below `blobs/`: `<alg>/<2 hex>/<hex>/data`. */
const BLOB_DATA_SHAPE = ["*", "*", "*", "data"] as const;

/**
 * Streams every blob with its size, in digest order (sorted by algorithm, then hex: the key
 * order). On object storage the sizes come with the listing, a thousand blobs a request.
 */
export async function* listBlobs(
  driver: StorageDriver,
  onWarning: (warning: StorageWarning) => void,
): AsyncGenerator<{ digest: Digest; size: number }> {
  try {
    for await (const object of driver.listObjects(BLOBS_PREFIX, BLOB_DATA_SHAPE)) {
      // `<alg>/<2 hex>/<hex>/data`; a folder without data is an upload that never finished. Cut
      // by position, not split: millions of blobs pass here.
      const key = object.key;
      const folder = key.indexOf("/", BLOBS_PREFIX.length) + 1;
      const hexAt = folder === 0 ? -1 : key.indexOf("/", folder) + 1;
      const file = hexAt <= 0 ? -1 : key.indexOf("/", hexAt) + 1;
      if (file <= 0 || key.length - file !== 4 || !key.endsWith("data") || key.slice(folder, hexAt - 1) !== key.slice(hexAt, hexAt + 2)) continue;
      const digest = digestFromParts(key.slice(BLOBS_PREFIX.length, folder - 1), key.slice(hexAt, file - 1));
      if (!digest) continue;
      if (object.problem === undefined) yield { digest, size: object.size };
      else onWarning({ path: driver.describe(object.key), message: object.problem });
    }
  } catch (error) {
    rethrowUnavailable(error);
    onWarning({ path: driver.describe(BLOBS_PREFIX.slice(0, -1)), message: `cannot list the blob store: ${describeStorageError(error)}` });
  }
}
