/**
 * `node .build/bench/profile.js <root> [tool|reference]`: runs the scan under `--cpu-prof` in a
 * child and prints where the time went, by self time per function and per file. This is how the
 * scan was profiled before optimising it (docs/performance.md).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BENCH_DIR } from "./environment.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

type CallFrame = ProfileNode["callFrame"];

/** The source file of a frame, shortened to the part from `.build/`, `dist/` or `node_modules/`. */
function fileOf(frame: CallFrame): string {
  return frame.url === "" ? "(native/VM)" : frame.url.replace(/^.*\/(\.build|dist|node_modules)\//, "$1/");
}

/** `function  file:line`, as the summaries print a frame. */
export function frameLabel(frame: CallFrame): string {
  return `${frame.functionName || "(anonymous)"}  ${fileOf(frame)}:${frame.lineNumber + 1}`;
}

/** Self time per function and per source file, largest first. */
export function summarize(profile: CpuProfile, top = 15): string[] {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byNode.get(id)!.callFrame;
    const file = fileOf(frame);
    const name = frameLabel(frame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const rows = (map: Map<string, number>): string[] => [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  return [`total sampled ${(total / 1000).toFixed(0)} ms`, "by function (self time):", ...rows(byFunction), "by file:", ...rows(byFile)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [root, which = "tool"] = process.argv.slice(2);
  if (!root) throw new Error("usage: profile.js <storage root> [tool|reference]");
  const dir = await mkdtemp(join(BENCH_DIR, "profile-"));
  const scan = join(fileURLToPath(new URL(".", import.meta.url)), "scan.js");
  const { stdout } = await promisify(execFile)(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, scan, root, which]);
  process.stdout.write(stdout);
  const [file] = await readdir(dir);
  const profile = JSON.parse(await readFile(join(dir, file!), "utf8")) as CpuProfile;
  process.stdout.write(`${summarize(profile).join("\n")}\n`);
  await rm(dir, { recursive: true, force: true });
}
