/**
 * Preloaded into the CLI to see where its memory goes over time:
 * `BENCH_MEMORY_SAMPLES=/tmp/samples.jsonl BENCH_CLI_NODE_ARGS="--import ./.build/bench/memory-hook.js"
 * npm run bench -- --size L --scenario memory`. Every 3 s (BENCH_MEMORY_INTERVAL_MS), and at exit,
 * appends a JSON line of `process.memoryUsage()` in MB (rss, heapTotal, heapUsed, external,
 * arrayBuffers), the young generation's size (newSpace) and how many writes to stdout came before (writes).
 */
import { appendFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";

const target = process.env.BENCH_MEMORY_SAMPLES;
if (target) {
  const started = Date.now();
  // Counts what the CLI wrote, to tell the phases apart: the scan writes nothing to stdout.
  let writes = 0;
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  process.stdout.write = ((...args: unknown[]) => (writes++, write(...args))) as typeof process.stdout.write;
  const sample = (): void => {
    const usage = process.memoryUsage();
    const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
    const line = {
      seconds: Math.round((Date.now() - started) / 1000), rss: mb(usage.rss), heapTotal: mb(usage.heapTotal),
      heapUsed: mb(usage.heapUsed), external: mb(usage.external), arrayBuffers: mb(usage.arrayBuffers),
      writes, newSpace: mb(getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0),
    };
    appendFileSync(target, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, Number(process.env.BENCH_MEMORY_INTERVAL_MS ?? 3000)).unref();
  process.on("exit", sample);
}
