/**
 * `node .build/bench/profile-timeline.js <cpuprofile file or folder> [bucket ms]`: a `--cpu-prof`
 * of the CLI (BENCH_CLI_NODE_ARGS="--cpu-prof --cpu-prof-dir=…") as a timeline: for each bucket
 * of time, where it went, each sample named by the nearest frame of the CLI's own code
 * (`dist/…`) or else its own function. Tells the phases of a run apart (start, scan,
 * cross-checks and output, space estimate), which a summary over the whole run cannot.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { CpuProfile } from "./profile.js";

const [path, bucketArg = "250"] = process.argv.slice(2);
if (!path) throw new Error("usage: profile-timeline.js <file.cpuprofile or folder> [bucket ms]");
const file = (await stat(path)).isDirectory() ? join(path, (await readdir(path)).find((name) => name.endsWith(".cpuprofile"))!) : path;
const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile & { nodes: Array<{ children?: number[] }> };
const bucketMs = Number(bucketArg);

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

/** The nearest frame in the CLI's own code, else the sampled function itself. */
function label(id: number): string {
  const own = byId.get(id)!.callFrame;
  if (own.url === "") return own.functionName || "(native)";
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (frame.url.includes("/dist/")) return `${frame.url.split("/dist/")[1]}:${frame.functionName || "(anonymous)"}`;
  }
  return `${own.url.split("/").pop()}:${own.functionName || "(anonymous)"}`;
}

const buckets: Array<Map<string, number>> = [];
let ms = 0;
profile.samples.forEach((id, i) => {
  const delta = (profile.timeDeltas[i] ?? 0) / 1000;
  ms += delta;
  const bucket = (buckets[Math.floor(ms / bucketMs)] ??= new Map());
  const name = label(id);
  bucket.set(name, (bucket.get(name) ?? 0) + delta);
});
buckets.forEach((bucket, i) => {
  const top = [...bucket].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([name, spent]) => `${name} ${Math.round(spent)}`);
  process.stdout.write(`${((i * bucketMs) / 1000).toFixed(2)} s  ${top.join(" | ")}\n`);
});
