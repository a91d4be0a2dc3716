/**
 * An idle filesystem worker pool never keeps the process alive: a CLI run that used only one of
 * its workers (a small storage) exited only when killed.
 */
import { execFile } from "node:child_process";
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
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { timeout: 15_000 });
  expect(stdout.trim()).toBe("answered");
});
