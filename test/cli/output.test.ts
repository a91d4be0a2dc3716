import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ManifestOutcome } from "../../src/core/report.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import type { Digest } from "../../src/core/digest.js";
import { Output } from "../../src/cli/output.js";

/** A pipe: not a terminal; every write is recorded with the stream it went to, in order. */
function pipes(): { writes: string[]; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } {
  const writes: string[] = [];
  const stream = (label: string) => ({ isTTY: false, write: (text: string) => writes.push(`${label}:${text}`) }) as unknown as NodeJS.WriteStream;
  return { writes, stdout: stream("out"), stderr: stream("err") };
}

const outcome = (n: number, kind: ManifestOutcome["kind"] = "deleted"): ManifestOutcome => ({
  repository: "group/project" as RepositoryName,
  digest: `sha256:${String(n).padStart(64, "0")}` as Digest,
  kind,
  ...(kind === "failed" ? { detail: "boom" } : {}),
});

describe("Output into a pipe", () => {
  const mode = { json: false, quiet: false, verbose: false, color: false };

  it("writes a turn's lines in one write, after the turn", async () => {
    const { writes, stdout, stderr } = pipes();
    const events = new Output(mode, stdout, stderr, {}).events("root");
    events.outcome!(outcome(1));
    events.outcome!(outcome(2));
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^out:Deleted image sha256:0+1 in repository group\/project\nDeleted image sha256:0+2 .*\n$/);
  });

  it("keeps the order across stdout and stderr", async () => {
    const { writes, stdout, stderr } = pipes();
    const events = new Output(mode, stdout, stderr, {}).events("root");
    events.outcome!(outcome(1));
    events.outcome!(outcome(2, "failed"));
    events.outcome!(outcome(3));
    await nextTurn();
    expect(writes.map((w) => w.split(" ")[0])).toEqual(["out:Deleted", "err:Could", "out:Deleted"]);
  });

  it("writes what waits when stopped or flushed, and a JSON document after the lines", () => {
    const { writes, stdout, stderr } = pipes();
    const output = new Output({ ...mode, json: true }, stdout, stderr, {});
    output.events("root").outcome!(outcome(1));
    output.json({ ok: true });
    expect(writes[0]).toMatch(/^err:Deleted image/);
    expect(writes[1]).toBe('out:{\n  "ok": true\n}\n');
    output.text("a summary line");
    output.stop();
    expect(writes[2]).toBe("err:a summary line\n");
    output.flush();
    expect(writes).toHaveLength(3);
  });

  it("does not hold more than 64 KB", () => {
    const { writes, stdout, stderr } = pipes();
    const output = new Output(mode, stdout, stderr, {});
    for (let i = 0; i < 2000; i++) output.text(`line ${i} ${"x".repeat(60)}`);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((w) => w.length <= 64 * 1024 + 100)).toBe(true);
  });
});
