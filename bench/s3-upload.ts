/**
 * Copies a generated storage root into a bucket, key for key, the way the registry's `s3` driver
 * would have laid it out: every file below the root becomes the object `<rootdirectory><path>`.
 * Straight to S3 with signed PUTs (the test helper's own client), never through the registry,
 * so that 100,000 manifests take minutes rather than the hours of real pushes.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { S3Server } from "../test/helpers/s3-server.js";

/** What was uploaded. */
export interface Upload {
  objects: number;
  bytes: number;
  ms: number;
}

/**
 * PUTs every file below `root` as `<prefix><relative path>` with at most `concurrency` in
 * flight; `onProgress` hears the count now and then. Rejects on the first failed PUT.
 */
export async function uploadTree(
  server: S3Server, bucket: string, root: string, prefix: string,
  options: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Upload> {
  const started = performance.now();
  const keys = await filesBelow(root);
  let next = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const body = await readFile(join(root, key));
      await putWithRetry(server, bucket, prefix + key, body);
      bytes += body.length;
      if (next % 20_000 === 0) options.onProgress?.(next, keys.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 32) }, worker));
  return { objects: keys.length, bytes, ms: performance.now() - started };
}

/** A loaded gateway can drop a connection now and then; a seeding PUT is safe to repeat. */
async function putWithRetry(server: S3Server, bucket: string, key: string, body: Buffer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await server.putObject(bucket, key, body);
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Every file below `root`, as `/`-separated paths relative to it (directories are not objects). */
async function filesBelow(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (relative: string): Promise<void> => {
    const entries = await readdir(relative ? join(root, relative) : root, { withFileTypes: true });
    const dirs: string[] = [];
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) dirs.push(path);
      else if (entry.isFile()) found.push(path);
    }
    // A few directories at once: the tree has ~300,000 of them on M.
    for (let i = 0; i < dirs.length; i += 64) await Promise.all(dirs.slice(i, i + 64).map(visit));
  };
  await visit("");
  return found;
}
