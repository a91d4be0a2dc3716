import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import { nodeStorageFs } from "../../src/storage/storage-fs.js";
import { checkStorageRoot } from "../../src/storage/storage-root.js";
import { type StorageTree, createStorageTree, failingFs, repositoriesDir } from "../helpers/storage-tree.js";

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

async function refusal(promise: Promise<void>): Promise<UsageError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

describe("checkStorageRoot", () => {
  it("accepts a registry storage root", async () => {
    await expect(checkStorageRoot(tree.root)).resolves.toBeUndefined();
  });

  it("refuses a missing root and says which flag to use", async () => {
    const missing = join(tree.root, "nope");
    const error = await refusal(checkStorageRoot(missing));
    expect(error.message).toBe(
      `Storage path ${missing} does not exist. Pass the registry's storage root with -p/--registry-path ` +
        "(omnibus: /var/opt/gitlab/gitlab-rails/shared/registry).",
    );
    expect(error.exitCode).toBe(2);
  });

  it("refuses a directory that is not a registry storage root, naming the expected subpath", async () => {
    const other = join(tree.root, "docker");
    const error = await refusal(checkStorageRoot(other));
    expect(error.message).toContain(`${other} is not a registry storage root`);
    expect(error.message).toContain(join(other, "docker/registry/v2/repositories"));
  });

  it("refuses a file where the root should be", async () => {
    const file = join(tree.root, "file");
    await writeFile(file, "");
    expect((await refusal(checkStorageRoot(file))).message).toContain("is not a directory");
  });

  it("explains permission denied listing the repositories directory", async () => {
    const path = repositoriesDir(tree.root);
    // stat works (the parent is open to us) but listing the directory itself does not.
    const fs = { ...nodeStorageFs, probeDir: failingFs({ [path]: "EACCES" }).probeDir };
    const error = await refusal(checkStorageRoot(tree.root, fs));
    expect(error.message).toContain(`Permission denied reading ${path}. `);
  });

  it.each([
    ["the root itself", (root: string) => root, (root: string) => root],
    ["entering a path element", (root: string) => join(root, "docker", "registry"), (root: string) => join(root, "docker")],
    ["the repositories directory", repositoriesDir, (root: string) => join(root, "docker", "registry", "v2")],
  ])("explains permission denied on %s, and suggests sudo", async (_, at, named) => {
    // Tests run as root, where chmod cannot provoke EACCES: simulate it at one path instead.
    const error = await refusal(checkStorageRoot(tree.root, failingFs({ [at(tree.root)]: "EACCES" })));
    expect(error.message).toContain(`Permission denied reading ${named(tree.root)}.`);
    expect(error.message).toContain("sudo");
    expect(error.message).toContain("0770");
  });

  // A real EACCES cannot be provoked as root with all its capabilities (CI runs as root):
  // test/e2e/bad-input.e2e.test.ts runs the built CLI as root without the file-permission
  // capabilities against real storage for that ("storage permission denied").
});
