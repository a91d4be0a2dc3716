/**
 * `--gc`: run garbage collection after the cleanup and measure what it really freed, by walking
 * the blob store before and after.
 */
import { CleanupError, ExitCode } from "./core/errors.js";
import type { BlobTotals } from "./core/space.js";
import type { StorageReader } from "./storage/storage-reader.js";

export interface GcResult {
  command: string;
  before: BlobTotals;
  after: BlobTotals;
  freed: BlobTotals;
}

/** Runs `command` (through `run`, which resolves with its exit code) and measures the blob store. */
export async function collectGarbage(
  storage: StorageReader,
  command: string,
  run: (command: string) => Promise<number>,
): Promise<GcResult> {
  const before = await measure(storage);
  const code = await run(command);
  if (code !== 0) {
    throw new CleanupError(
      `Garbage collection (${command}) exited with code ${code}; the manifests are deleted, but their space is ` +
        "not freed yet. Read its output above, then run it again.",
      ExitCode.deletionsFailed,
    );
  }
  const after = await measure(storage);
  return { command, before, after, freed: { blobs: before.blobs - after.blobs, bytes: before.bytes - after.bytes } };
}

async function measure(storage: StorageReader): Promise<BlobTotals> {
  const totals = { blobs: 0, bytes: 0 };
  for await (const blob of storage.listBlobs(() => {})) {
    totals.blobs++;
    totals.bytes += blob.size;
  }
  return totals;
}
