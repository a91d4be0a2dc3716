/**
 * A stdout whose reader went away (`… | head -1`), as a stream whose writes fail with EPIPE (the
 * real pipe is in test/e2e/runs-that-end-badly.e2e.test.ts). The process must not end on EPIPE;
 * Output writes nothing more there; the warning and the exit code say the summary was lost.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/core/errors.js";
import { Output, isClosed, watchClosedStreams } from "../../src/cli/output.js";

/** A writable whose every write fails as a pipe without a reader does. */
function brokenPipe(): { stream: NodeJS.WriteStream; writes: () => number } {
  let writes = 0;
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      writes++;
      callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" }));
    },
  });
  return { stream: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream, writes: () => writes };
}

function openStream(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => text };
}

describe("a closed stdout", () => {
  it("is noted instead of ending the process, and Output writes nothing more there", async () => {
    const stdout = brokenPipe();
    const stderr = openStream();
    const closed = watchClosedStreams(stdout.stream, stderr.stream);
    const output = new Output({ json: false, quiet: false, verbose: false, color: false }, stdout.stream, stderr.stream, {});
    output.text("Deleted image sha256:1 in repository a/b");
    output.flush();
    await closed.settle();
    expect(isClosed(stdout.stream)).toBe(true);
    output.summary(["Summary", "  Deleted 1"]);
    output.flush();
    expect(stdout.writes()).toBe(1);
    expect(closed.exitCode(ExitCode.ok)).toBe(ExitCode.deletionsFailed);
    expect(closed.exitCode(ExitCode.refused)).toBe(ExitCode.refused);
    expect(closed.notice()).toMatch(/^Warning: Standard output was closed before the run ended \(EPIPE/);
    output.warning(closed.notice()!);
    output.flush();
    expect(stderr.text()).toContain("the summary included, was not shown");
  });

  it("changes nothing while both streams are open", async () => {
    const closed = watchClosedStreams(openStream().stream, openStream().stream);
    await closed.settle();
    expect(closed.notice()).toBeUndefined();
    expect(closed.exitCode(ExitCode.ok)).toBe(ExitCode.ok);
  });
});
