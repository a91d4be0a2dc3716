/**
 * The StorageFs over worker threads answers exactly like the callback one, whether a turn's calls
 * go out as a batch to the workers or, being few, through the fallback.
 */
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsWorkerPool } from "../../src/storage/fs-worker-pool.js";
import { namedBelowVia } from "../../src/storage/named-below.js";
import { storageFsOver } from "../../src/storage/pooled-storage-fs.js";
import { nodeStorageFs, type StorageFs } from "../../src/storage/storage-fs.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fs-worker-pool-"));
  await mkdir(join(dir, "sub"));
  await symlink(join(dir, "sub"), join(dir, "loop"));
  for (const size of [0, 10, 16 * 1024, 300 * 1024]) await writeFile(join(dir, `file-${size}`), bytes(size));
  await writeFile(join(dir, "link"), "sha256:abc");
  await utimes(join(dir, "link"), new Date(1_700_000_000_000), new Date(1_700_000_000_000));
  // A blob store's two-hex folder: names in several orders, an upload without data, a "data"
  // that is a directory, and a symbolic link that is not followed.
  const below = join(dir, "below");
  for (const [sub, size] of [["aa", 3], ["a", 5], ["a-b", 7], ["b", 0]] as const) {
    await mkdir(join(below, sub), { recursive: true });
    await writeFile(join(below, sub, "data"), bytes(size));
  }
  await mkdir(join(below, "unfinished"));
  await mkdir(join(below, "odd", "data"), { recursive: true });
  await symlink(join(below, "aa"), join(below, "linked"));
  // A file that cannot be stat'ed: a symbolic link to itself (ELOOP).
  await mkdir(join(below, "loop"));
  await symlink(join(below, "loop", "data"), join(below, "loop", "data"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bytes(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
}

/** Everything a StorageFs can answer about `dir`, errors included, as plain values. */
async function answers(fs: StorageFs): Promise<unknown[]> {
  const settle = <T>(work: Promise<T>, shape: (value: T) => unknown): Promise<unknown> =>
    work.then(shape, (error: { code?: string }) => ({ code: error.code }));
  const stats = (s: { size: number; mtimeMs: number; isDirectory(): boolean }): unknown => ({ size: s.size, mtimeMs: s.mtimeMs, dir: s.isDirectory() });
  const files = ["file-0", "file-10", "file-16384", "file-307200", "link", "missing", "sub"].map((name) => join(dir, name));
  // All started in one turn: with the pool, one batch.
  return Promise.all([
    settle(fs.listDir(dir), (entries) => entries.map((e) => [e.name, e.isDirectory(), e.isSymbolicLink()]).sort()),
    settle(fs.listDir(join(dir, "missing")), () => "listed"),
    ...files.map((path) => settle(fs.readFile(path), (read) => read.toString("base64"))),
    ...files.map((path) => settle(fs.readSmallFile(path, 256), (read) => ({ stats: stats(read.stats), bytes: read.bytes?.toString("base64") }))),
    ...files.map((path) => settle(fs.stat(path), stats)),
    settle(fs.probeDir(join(dir, "sub")), () => "probed"),
    settle(fs.probeDir(join(dir, "missing")), () => "probed"),
  ]);
}

describe("the StorageFs over worker threads", () => {
  it("answers a batch like the callback StorageFs, errors with their codes", async () => {
    const pooled = storageFsOver(new FsWorkerPool(2));
    const expected = await answers(nodeStorageFs);
    expect(await answers(pooled)).toEqual(expected);
    // Once more, with the workers started.
    expect(await answers(pooled)).toEqual(expected);
  });

  it("answers a lone call through the fallback, the same way", async () => {
    const calls: string[] = [];
    const fallback: StorageFs = { ...nodeStorageFs, stat: (path) => (calls.push(path), nodeStorageFs.stat(path)) };
    const pooled = storageFsOver(new FsWorkerPool(1, fallback));
    expect((await pooled.stat(join(dir, "link"))).mtimeMs).toBe(1_700_000_000_000);
    await expect(pooled.stat(join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(calls).toHaveLength(2);
  });

  it("answers through the fallback the calls of a worker that died with them in flight", async () => {
    const pool = new FsWorkerPool(1);
    const pooled = storageFsOver(pool);
    const paths = Array.from({ length: 20 }, () => join(dir, "link"));
    await pooled.statMany(paths);
    const worker = (pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots[0]!.worker;
    const inFlight = pooled.statMany(paths);
    // The batch leaves at the end of this turn; the worker is gone before it can answer.
    setImmediate(() => void worker.terminate());
    const stats = await inFlight;
    expect(stats.every((s) => !(s instanceof Error) && s.size === 10)).toBe(true);
    expect((await pooled.statMany(paths)).every((s) => !(s instanceof Error))).toBe(true);
  });

  it("stats many files in one call, a missing one as its error", async () => {
    const pooled = storageFsOver(new FsWorkerPool(2));
    const names = [...Array.from({ length: 40 }, () => "link"), "missing"];
    const stats = await pooled.statMany(names.map((name) => join(dir, name)));
    expect(stats.slice(0, 40).every((s) => !(s instanceof Error) && s.size === 10)).toBe(true);
    expect(stats[40]).toMatchObject({ code: "ENOENT" });
  });

  it("stats a file in every subfolder in one call, in key order, like a call per file", async () => {
    const expected = { folders: ["a-b", "a", "aa", "b", "loop"], sizes: [7, 5, 3, 0, 0], problems: [[4, "ELOOP"]] };
    const plain = (named: Awaited<ReturnType<typeof namedBelowVia>>): unknown => ({
      folders: named.count === 0 ? [] : named.names.toString().split("\0"), sizes: Array.from({ length: named.count }, (_, i) => named.stats[2 * i]),
      problems: [...named.problems].map(([i, error]) => [i, (error as { code?: string }).code]),
    });
    const below = join(dir, "below");
    expect(plain(await namedBelowVia(nodeStorageFs, below, "data"))).toEqual(expected);
    // Through the workers, and through the fallback of a pool that has none.
    for (const pool of [new FsWorkerPool(2), new FsWorkerPool(0)]) {
      const pooled = storageFsOver(pool);
      const [named, again] = await Promise.all([pooled.statNamedBelow(below, "data"), pooled.statNamedBelow(below, "data")]);
      expect(plain(named)).toEqual(expected);
      expect(named.problems.get(4)?.message).toContain("ELOOP");
      expect(plain(again)).toEqual(plain(named));
      expect(named.stats[1]).toBeGreaterThan(0);
      await expect(pooled.statNamedBelow(join(dir, "missing"), "data")).rejects.toMatchObject({ code: "ENOENT" });
      await expect(pooled.statNamedBelow(join(dir, "link"), "data")).rejects.toMatchObject({ code: "ENOTDIR" });
    }
  });
});
