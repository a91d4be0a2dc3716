/**
 * `--gc`: run garbage collection after the cleanup and measure what it really freed, by walking
 * the blob store before and after.
 */
import { CleanupError, ExitCode, SafetyRefusal } from "./core/errors.js";
import { type GcHazard, hazardsFor } from "./core/gc-hazards.js";
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

/**
 * `--gc` must not start a collection that will stop at a file the scan saw (it stops the
 * registry for nothing, then fails): the refusal names each file and why, unless `force`
 * (`--force-gc`). The deletions already happened; only the collection is refused.
 */
export function refuseGarbageCollection(hazards: readonly GcHazard[], command: string, force: boolean): SafetyRefusal | undefined {
  const stopping = hazardsFor(hazards, command);
  if (force || stopping.length === 0) return undefined;
  const files = stopping.map((hazard) => `${hazard.path} (${hazard.reason})`).join("; ");
  return new SafetyRefusal(
    `Garbage collection (${command}) was not started: it would fail on ${stopping.length === 1 ? "this file" : `these ${stopping.length} files`}: ` +
      `${files}. The deletions above were made; only garbage collection was refused. Fix or move the files with the ` +
      "commands printed above, then run it; or pass --force-gc to run it anyway.",
  );
}
