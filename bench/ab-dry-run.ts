/**
 * `node .build/bench/ab-dry-run.js <rounds> <size> <cli> [<cli>…] [--cold]`: the CLI dry run of
 * scenario 6 for two (or more) builds, each round the synchronous walk first and then every
 * build, so that each build's ratio to the walk is measured minutes apart at most. Prints each
 * round and the medians. How each change to the dry run was measured (docs/performance.md).
 */
import { cliArgs, runCliMeasured } from "./cli-run.js";
import { dropCaches, referenceWalk } from "./dry-run.js";
import { cachedStorage, modelsOf, startServers } from "./environment.js";
import type { SizeName } from "./model.js";

const args = process.argv.slice(2);
const cold = args.includes("--cold");
const [rounds = "3", size = "M", ...clis] = args.filter((arg) => arg !== "--cold");
if (clis.length === 0) throw new Error("usage: ab-dry-run.js <rounds> <size> <cli> [<cli>…] [--cold]");
const storage = await cachedStorage(size as SizeName, 1, 2);
const servers = await startServers(storage.root, modelsOf(size as SizeName, 1), { copy: false });
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const s = (ms: number): string => (ms / 1000).toFixed(2);
try {
  if (cold && !dropCaches()) throw new Error("the page cache cannot be dropped here");
  await referenceWalk(storage.root);
  const ratios = clis.map(() => ({ wall: [] as number[], cpu: [] as number[], rss: [] as number[] }));
  for (let round = 1; round <= Number(rounds); round++) {
    if (cold) dropCaches();
    const walk = await referenceWalk(storage.root);
    const line = [`round ${round}: walk ${s(walk.wallMs)} s (CPU ${s(walk.cpuMs)})`];
    for (const [i, cli] of clis.entries()) {
      if (cold) dropCaches();
      const run = await runCliMeasured(await cliArgs(servers, ["--dry-run", "--min-age", "0"]), servers.dir, cli);
      if (run.code !== 0 || run.counts.Would !== storage.summary.candidates) throw new Error(`${cli}: exit ${run.code}, ${run.counts.Would} would-delete lines\n${run.tail.join("\n")}`);
      ratios[i]!.wall.push(run.wallMs / walk.wallMs);
      ratios[i]!.cpu.push(run.cpuMs / walk.cpuMs);
      ratios[i]!.rss.push(run.maxRssKb / 1024);
      line.push(`${String.fromCharCode(65 + i)} ${s(run.wallMs)} s (CPU ${s(run.cpuMs)}, ${(run.maxRssKb / 1024).toFixed(0)} MB) ${(run.wallMs / walk.wallMs).toFixed(2)}x`);
    }
    process.stdout.write(`${line.join(", ")}\n`);
  }
  clis.forEach((cli, i) => {
    const r = ratios[i]!;
    process.stdout.write(`${String.fromCharCode(65 + i)} ${cli}: median ${median(r.wall).toFixed(2)}x wall, ${median(r.cpu).toFixed(2)}x CPU, peak RSS ${Math.max(...r.rss).toFixed(0)} MB\n`);
  });
} finally {
  await servers.stop();
}
