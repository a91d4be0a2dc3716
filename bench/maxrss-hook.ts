/**
 * Preloaded into a measured child (`node --import .build/bench/maxrss-hook.js …`): at exit,
 * writes the process's peak resident set size and its CPU time to $BENCH_MAXRSS_FILE. Works where /usr/bin/time
 * does not exist and catches the peak however short it lasted.
 */
import { writeFileSync } from "node:fs";

const target = process.env.BENCH_MAXRSS_FILE;
if (target) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
    writeFileSync(target, JSON.stringify({ maxRssKb: usage.maxRSS, cpuMs }));
  });
}
