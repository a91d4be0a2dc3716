/**
 * Writing a file that something else reads (`--output`, read by cron jobs and monitoring): whole
 * or not at all. A run killed mid-write must not leave half a JSON document where the last whole
 * one was. The text goes to a file beside it, whose folder fs-extra's `outputFile` creates as
 * needed, and a rename puts it in place in one step. Not fs-extra's `move`: with `overwrite` it
 * removes the old file before renaming, which leaves a moment with no file at all.
 */
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import fse from "fs-extra";

export async function writeWhole(path: string, text: string, mode = 0o600): Promise<void> {
  const beside = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await fse.outputFile(beside, text, { mode });
    await rename(beside, path);
  } catch (error) {
    await rm(beside, { force: true }).catch(() => undefined);
    throw error;
  }
}
