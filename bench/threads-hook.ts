/**
 * Preloaded into the CLI to see where its threads' time goes:
 * `BENCH_CLI_ENV="BENCH_THREADS_FILE=/tmp/threads.txt" BENCH_CLI_NODE_ARGS="--import
 * ./.build/bench/threads-hook.js" npm run bench -- --size M --scenario dryrun --rounds 1 --warm-only`
 * (or `node .build/bench/ab-dry-run.js`, a line per build and round). At exit, appends a line
 * per run: every message to a worker thread (how many, how many calls they carried, and the
 * wall time spent inside `postMessage`, which includes losing the core to the thread it woke),
 * then the CPU time of each of the process's threads from `/proc/self/task` (Linux): the main
 * thread first, then V8's platform threads, libuv's pool and the filesystem workers, in the
 * order the system lists them. docs/performance.md, the eighth session.
 */
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

const target = process.env.BENCH_THREADS_FILE;
if (target) {
  const post = Worker.prototype.postMessage;
  let messages = 0;
  let calls = 0;
  let insideNs = 0n;
  let overMs = 0;
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker["postMessage"]>): void {
    const started = process.hrtime.bigint();
    try {
      post.apply(this, args);
    } finally {
      const took = process.hrtime.bigint() - started;
      insideNs += took;
      if (took > 1_000_000n) overMs++;
      messages++;
      const kinds = (args[0] as { kinds?: Uint8Array } | undefined)?.kinds;
      if (kinds instanceof Uint8Array) calls += kinds.length;
    }
  };
  process.on("exit", () => {
    const threads: string[] = [];
    const tick = 10; // ms per clock tick (USER_HZ 100)
    for (const tid of readdirSync("/proc/self/task")) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const user = Number(fields[11]) * tick;
        const system = Number(fields[12]) * tick;
        if (user + system > 0) threads.push(`${tid} ${user + system} ms (user ${user}, system ${system})`);
      } catch {
        // A thread that ended meanwhile.
      }
    }
    const ms = Number(insideNs / 1000n) / 1000;
    appendFileSync(target, `${messages} worker messages, ${calls} calls, ${ms.toFixed(0)} ms inside postMessage ` +
      `(${messages > 0 ? ((1000 * ms) / messages).toFixed(1) : 0} µs each, ${overMs} over 1 ms); threads: ${threads.join("; ")}\n`);
  });
}
