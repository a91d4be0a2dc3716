/** `--output`'s file: written whole, in a folder made as needed, replacing the old one in one step. */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeWhole } from "../../src/cli/write-whole.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "write-whole-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeWhole", () => {
  it("creates the folders, writes the text with mode 0600, and leaves nothing beside it", async () => {
    const path = join(dir, "reports", "nightly", "run.json");
    await writeWhole(path, '{"ok":true}\n');
    expect(await readFile(path, "utf8")).toBe('{"ok":true}\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, "reports", "nightly"))).toEqual(["run.json"]);
  });

  it("replaces the last file; a write that fails leaves nothing beside it", async () => {
    const path = join(dir, "run.json");
    await writeFile(path, "last night\n");
    await writeWhole(path, "tonight\n");
    expect(await readFile(path, "utf8")).toBe("tonight\n");
    // A folder where the file should go: the rename fails, and the text written beside it is gone again.
    const blocked = join(dir, "blocked");
    await mkdir(join(blocked, "inside"), { recursive: true });
    await expect(writeWhole(blocked, "new\n")).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["blocked", "run.json"]);
  });
});
