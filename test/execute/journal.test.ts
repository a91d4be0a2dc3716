/**
 * FileJournal on real files and devices: records are on disk when append resolves, a failed write
 * (/dev/full: opening succeeds, every write is ENOSPC) fails that append and every later one at
 * once with the same JournalWriteError, and close() never waits for ever.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import { FileJournal, JournalWriteError, type JournalRecord } from "../../src/execute/journal.js";

const record = (n: number): JournalRecord => ({
  runId: "run", time: new Date(0).toISOString(), repository: "group/project" as RepositoryName,
  digest: `sha256:${String(n).padStart(64, "0")}` as Digest, mediaType: "application/vnd.oci.image.manifest.v1+json",
  manifest: Buffer.from(`{"n":${n}}`).toString("base64"),
});

/** Settles within `ms`, or rejects saying it hung: the bug was a promise never settled. */
function within<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "journal-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("FileJournal", () => {
  it("has every concurrently appended record on disk once its append resolves", async () => {
    const journal = await FileJournal.open(join(dir, "a", "journal.jsonl"));
    await Promise.all([1, 2, 3, 4, 5].map((n) => journal.append(record(n))));
    await journal.append(record(6));
    expect(journal.records).toBe(6);
    await journal.close();
    const lines = (await readFile(journal.path, "utf8")).trim().split("\n").map((l) => JSON.parse(l).digest);
    expect(lines).toEqual([1, 2, 3, 4, 5, 6].map((n) => record(n).digest));
  });

  it("fails every append after a failed write at once, with the same error, and closes", async () => {
    const journal = await FileJournal.open("/dev/full");
    const first = await within(journal.append(record(1)).then(() => undefined, (error: unknown) => error));
    expect(first).toBeInstanceOf(JournalWriteError);
    const failure = first as JournalWriteError;
    expect(failure.code).toBe("ENOSPC");
    expect(failure.exitCode).toBe(1);
    expect(failure.message).toContain("/dev/full (ENOSPC: no space left on device)");
    expect(failure.message).toContain("--journal <path>");
    // Before the fix the second append was never written nor answered, and close() spun for ever.
    const later = await within(Promise.allSettled([journal.append(record(2)), journal.append(record(3))]));
    expect(later).toEqual([{ status: "rejected", reason: failure }, { status: "rejected", reason: failure }]);
    await within(journal.close());
    expect(journal.records).toBe(0);
    expect((await stat("/dev/full")).isCharacterDevice()).toBe(true);
  });

  it("fails the records appended together with the failed write, not only the first", async () => {
    const journal = await FileJournal.open("/dev/full");
    const all = await within(Promise.allSettled([1, 2, 3].map((n) => journal.append(record(n)))));
    expect(all.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    await within(journal.close());
  });

  it("removes a journal it created and never wrote, but never a file that was there before", async () => {
    const fresh = await FileJournal.open(join(dir, "fresh.jsonl"));
    await fresh.close();
    await expect(stat(fresh.path)).rejects.toMatchObject({ code: "ENOENT" });
    // An earlier run's journal, given again with --journal to a run that in the end deletes nothing.
    const earlier = join(dir, "earlier.jsonl");
    await writeFile(earlier, JSON.stringify(record(1)) + "\n");
    const again = await FileJournal.open(earlier);
    await again.close();
    expect(await readFile(earlier, "utf8")).toBe(JSON.stringify(record(1)) + "\n");
  });
});
