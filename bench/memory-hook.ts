/**
 * Preloaded into the CLI to see where its memory goes over time:
 * `BENCH_MEMORY_SAMPLES=/tmp/samples.jsonl BENCH_CLI_NODE_ARGS="--import ./.build/bench/memory-hook.js"
 * npm run bench -- --size L --scenario memory`. Every 3 s, and at exit, appends a JSON line of
 * `process.memoryUsage()` in MB (rss, heapTotal, heapUsed, external, arrayBuffers).
 */
import { appendFileSync } from "node:fs";

const target = process.env.BENCH_MEMORY_SAMPLES;
if (target) {
  const started = Date.now();
  const sample = (): void => {
    const usage = process.memoryUsage();
    const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
    const line = {
      seconds: Math.round((Date.now() - started) / 1000), rss: mb(usage.rss), heapTotal: mb(usage.heapTotal),
      heapUsed: mb(usage.heapUsed), external: mb(usage.external), arrayBuffers: mb(usage.arrayBuffers),
    };
    appendFileSync(target, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, 3000).unref();
  process.on("exit", sample);
}
