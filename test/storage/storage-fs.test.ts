/** The real StorageFs's reads, which make as few thread-pool round trips as they can. */
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeStorageFs } from "../../src/storage/storage-fs.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "storage-fs-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bytes(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
}

describe("nodeStorageFs.readFile", () => {
  it.each([0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 300 * 1024])("reads a file of %i bytes whole", async (size) => {
    const path = join(dir, `file-${size}`);
    await writeFile(path, bytes(size));
    expect((await nodeStorageFs.readFile(path)).equals(bytes(size))).toBe(true);
  });

  it("fails like fs.readFile on a missing file", async () => {
    await expect(nodeStorageFs.readFile(join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("nodeStorageFs.readSmallFile", () => {
  it("returns the bytes and the stats of one file", async () => {
    const path = join(dir, "link");
    await writeFile(path, "sha256:abc");
    await utimes(path, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    const read = await nodeStorageFs.readSmallFile(path, 256);
    expect(read.bytes?.toString()).toBe("sha256:abc");
    expect(read.stats.size).toBe(10);
    expect(read.stats.mtimeMs).toBe(1_700_000_000_000);
  });

  it("does not read a file longer than maxBytes", async () => {
    const path = join(dir, "big-link");
    await writeFile(path, bytes(1000));
    const read = await nodeStorageFs.readSmallFile(path, 256);
    expect(read.bytes).toBeUndefined();
    expect(read.stats.size).toBe(1000);
  });

  it("reads an empty file as empty", async () => {
    const path = join(dir, "empty");
    await writeFile(path, "");
    expect((await nodeStorageFs.readSmallFile(path, 256)).bytes?.length).toBe(0);
  });

  it("fails with the system error code on a missing file", async () => {
    await expect(nodeStorageFs.readSmallFile(join(dir, "nope"), 256)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("a failed read", () => {
  const openDescriptors = async () => (await import("node:fs/promises")).readdir("/proc/self/fd").then((fds) => fds.length);

  it("rejects with the read's error and closes the descriptor", async () => {
    const before = await openDescriptors();
    // A directory opens for reading, then every read of it fails with EISDIR.
    await expect(nodeStorageFs.readFile(dir)).rejects.toMatchObject({ code: "EISDIR" });
    await expect(nodeStorageFs.readSmallFile(dir, 1 << 20)).rejects.toMatchObject({ code: "EISDIR" });
    expect(await openDescriptors()).toBe(before);
  });
});
