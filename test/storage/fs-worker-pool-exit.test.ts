/**
 * An idle filesystem worker pool never keeps the process alive: a CLI run that used only one of
 * its workers (a small storage) exited only when killed.
 */
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { PACKAGE_ROOT } from "../helpers/run-cli.js";

const run = promisify(execFile);

it("the process exits once a batch that used one of two workers is answered", async () => {
  const script = `
    const { FsWorkerPool } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/storage/fs-worker-pool.js`)});
    const { OP } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/storage/fs-worker.js`)});
    const pool = new FsWorkerPool(2);
    await Promise.all(Array.from({ length: 10 }, () => pool.call(OP.stat, "/")));
    console.log("answered");`;
  // A file, not -e: --input-type would reach the worker's eval too.
  const file = join(await mkdtemp(join(tmpdir(), "pool-exit-")), "run.mjs");
  await writeFile(file, script);
  const { stdout } = await run(process.execPath, [file], { timeout: 15_000 });
  expect(stdout.trim()).toBe("answered");
});
