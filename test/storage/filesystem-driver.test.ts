/** The filesystem backend of the driver port: keys below a root, listings in key order, shapes. */
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StoredObject } from "../../src/storage/driver.js";
import { StorageReadError } from "../../src/storage/driver.js";
import { FilesystemDriver } from "../../src/storage/filesystem-driver.js";
import { type StorageTree, createStorageTree, failingFs } from "../helpers/storage-tree.js";

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree({ bare: true });
});
afterEach(async () => {
  await tree.cleanup();
});

async function keys(objects: AsyncIterable<StoredObject>): Promise<string[]> {
  const seen: string[] = [];
  for await (const object of objects) seen.push(object.key);
  return seen;
}

describe("FilesystemDriver", () => {
  it("names keys as paths below the root", () => {
    expect(new FilesystemDriver("/srv/registry/").describe("docker/registry/v2/blobs")).toBe("/srv/registry/docker/registry/v2/blobs");
    expect(new FilesystemDriver("/").describe("docker")).toBe("/docker");
  });

  it("lists one level: prefixes, stat'ed objects, and symbolic links as others", async () => {
    await tree.writeRaw("a/x/file", "1");
    await tree.writeRaw("a/y", "22", 1_000_000);
    await symlink(join(tree.root, "a", "x"), join(tree.root, "a", "link"));
    const listing = await new FilesystemDriver(tree.root).list("a/");
    expect(listing.prefixes).toEqual(["x"]);
    expect(listing.objects).toEqual([{ key: "a/y", size: 2, modifiedMs: 1_000_000 }]);
    expect(listing.others).toEqual([{ name: "link", what: "symbolic link" }]);
    expect(await new FilesystemDriver(tree.root).list("missing/")).toEqual({ prefixes: [], objects: [], others: [] });
  });

  it("lists objects recursively in key order, as S3 does (a-b before a/)", async () => {
    for (const key of ["p/a/z", "p/a-b", "p/a/b/c", "p/b", "p/a.txt"]) await tree.writeRaw(key, key);
    const listed = await keys(new FilesystemDriver(tree.root, { concurrency: 2 }).listObjects("p/"));
    expect(listed).toEqual(["p/a-b", "p/a.txt", "p/a/b/c", "p/a/z", "p/b"]);
    expect(listed).toEqual([...listed].sort());
  });

  it("with a shape, stats the named objects directly and leaves out other shapes", async () => {
    for (const key of ["r/sha256/aa/link", "r/sha256/bb/link", "r/sha256/bb/other", "r/sha256/cc/x/link", "r/md5/dd/link"]) {
      await tree.writeRaw(key, "x");
    }
    await tree.mkdir(join(tree.root, "r", "sha256", "deleted"));
    const calls: string[] = [];
    const driver = new FilesystemDriver(tree.root, { fs: failingFs({}, calls) });
    expect(await keys(driver.listObjects("r/", ["*", "*", "link"]))).toEqual(["r/md5/dd/link", "r/sha256/aa/link", "r/sha256/bb/link"]);
    expect(calls.some((path) => path.endsWith(join("sha256", "bb")))).toBe(false);
  });

  it("lists an object it cannot stat with its problem, and goes on", async () => {
    await tree.writeRaw("r/a/link", "x");
    await tree.writeRaw("r/b/link", "y");
    const denied = join(tree.root, "r", "a", "link");
    const objects: StoredObject[] = [];
    for await (const object of new FilesystemDriver(tree.root, { fs: failingFs({ [denied]: "EACCES" }) }).listObjects("r/", ["*", "link"])) {
      objects.push(object);
    }
    expect(objects).toEqual([
      { key: "r/a/link", size: 0, modifiedMs: 0, problem: expect.stringContaining("permission denied") },
      { key: "r/b/link", size: 1, modifiedMs: expect.any(Number) },
    ]);
  });

  it("gets small objects with their time, refuses large ones, and tells missing from denied", async () => {
    await tree.writeRaw("k", "hello", 2_000_000);
    const driver = new FilesystemDriver(tree.root);
    expect(await driver.get("k", 16)).toEqual({ bytes: Buffer.from("hello"), modifiedMs: 2_000_000 });
    expect(await driver.get("k", 3)).toEqual({ tooLarge: 5 });
    expect(await driver.get("nope")).toBeUndefined();
    expect(await driver.stat("nope")).toBeUndefined();
    const denied = new FilesystemDriver(tree.root, { fs: failingFs({ [join(tree.root, "k")]: "EACCES" }) });
    const error = await denied.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageReadError);
    expect(error).toMatchObject({ denied: true, message: expect.stringContaining("permission denied") });
  });
});
