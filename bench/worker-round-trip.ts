/**
 * `node .build/bench/worker-round-trip.js [round trips]`: what one message to a worker thread and
 * its answer cost on this machine, in wall time and in the CPU of the process, with batches
 * shaped like the filesystem pool's (fs-worker-pool.ts: 64 paths, two typed arrays). The price
 * of each batch the scan sends (docs/performance.md, the seventh session).
 */
import { Worker } from "node:worker_threads";

const rounds = Number(process.argv[2] ?? "5000");
const worker = new Worker(
  `const { parentPort } = require("node:worker_threads");
   parentPort.on("message", (batch) => parentPort.postMessage({ id: batch.id, numbers: new Float64Array(64 * 3), texts: [] }));`,
  { eval: true },
);
const paths = Array.from({ length: 64 }, (_, i) => `/var/opt/gitlab/gitlab-rails/shared/registry/docker/registry/v2/blobs/sha256/ab/ab${i}/data`).join("\0");
let answered = 0;
const started = performance.now();
const cpu = process.cpuUsage();
await new Promise<void>((done) => {
  const send = (): void => worker.postMessage({ id: answered, kinds: new Uint8Array(64), paths, args: new Float64Array(64) });
  worker.on("message", () => (++answered === rounds ? done() : send()));
  send();
});
const used = process.cpuUsage(cpu);
const wallUs = ((performance.now() - started) * 1000) / rounds;
process.stdout.write(`${rounds} round trips: ${wallUs.toFixed(1)} µs wall, ${((used.user + used.system) / rounds).toFixed(1)} µs of CPU each\n`);
await worker.terminate();
