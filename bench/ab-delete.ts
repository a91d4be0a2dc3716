/**
 * `node .build/bench/ab-delete.js <rounds> <cli.js>...`: the deletion phase of scenario 2 for
 * several builds of the CLI, alternately, each on a fresh copy of M (no reference loop). For
 * comparing a change with the build before it on a noisy machine: build the old commit in a git
 * worktree and pass its `dist/cli/main.js` next to this checkout's. M must be in the cache.
 */
import { join } from "node:path";
import { cliArgs, runCliMeasured } from "./cli-run.js";
import { halfMinAge, processCpuMs } from "./delete.js";
import { BENCH_DIR, modelsOf, startServers } from "./environment.js";

const [rounds = "1", ...clis] = process.argv.slice(2);
if (clis.length === 0) throw new Error("usage: ab-delete.js <rounds> <cli.js>...");
const source = join(BENCH_DIR, "storage", "M-seed1", "root");
const models = modelsOf("M", 1);
for (let round = 0; round < Number(rounds); round++) {
  for (const cli of clis) {
    const servers = await startServers(source, models);
    try {
      const args = await cliArgs(servers, ["--min-age", halfMinAge().flag, "--concurrency", "16", "--yes"]);
      const before = await processCpuMs(servers.registry.pid());
      const run = await runCliMeasured(args, servers.dir, cli);
      const registryCpuMs = (await processCpuMs(servers.registry.pid())) - before;
      const deleted = run.counts.Deleted ?? 0;
      const seconds = ((run.lastOutcomeMs ?? 0) - (run.firstOutcomeMs ?? 0)) / 1000;
      console.log(
        `${cli}: exit ${run.code}, ${deleted} deleted in ${seconds.toFixed(1)} s = ${(deleted / seconds).toFixed(0)}/s; ` +
          `CPU per deletion: registry ${(registryCpuMs / deleted).toFixed(2)} ms, CLI ${(run.cpuMs / deleted).toFixed(2)} ms (whole run); ` +
          `${servers.gitlab.authRequests} /jwt/auth requests`,
      );
    } finally {
      await servers.stop();
    }
  }
}
