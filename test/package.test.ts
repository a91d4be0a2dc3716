/**
 * What npm publishes: `npx gitlab-registry-cleanup` runs dist/cli/main.js from the tarball, so the
 * tarball must hold the built bin (with its shebang), the docs, and nothing of the tests.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "./helpers/run-cli.js";

const run = promisify(execFile);

describe("the npm package", () => {
  it("packs the bin, the programmatic API and the docs, and no tests", async () => {
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: PACKAGE_ROOT });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining([
      "dist/cli/main.js", "dist/index.js", "dist/index.d.ts", "README.md", "CHANGELOG.md", "docs/json.md", "package.json",
    ]));
    expect(files.filter((f) => f.startsWith("test/") || f.startsWith("src/") || f.startsWith("bench/"))).toEqual([]);
  });

  it("declares the bin, and the bin starts with a node shebang", async () => {
    const manifest = JSON.parse(await readFile(join(PACKAGE_ROOT, "package.json"), "utf8"));
    expect(manifest.bin).toEqual({ "gitlab-registry-cleanup": "dist/cli/main.js" });
    expect(manifest.type).toBe("module");
    const bin = await readFile(join(PACKAGE_ROOT, "dist/cli/main.js"), "utf8");
    expect(bin.startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});
