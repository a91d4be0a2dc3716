/**
 * How busy the shared machine is with other people's work, for benchmarks whose rounds should
 * run when it is quiet and whose results should say how noisy it was. Linux /proc only.
 */
import { readFile } from "node:fs/promises";

/** CPU time the whole machine has spent busy so far (every core, user + system + irq + steal), in ms. */
export async function machineBusyMs(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  // /proc/stat counts in USER_HZ, 100 on every Linux this runs on.
  return (user + nice + system + irq + softirq + steal) * 10;
}

/** Cores' worth of CPU the machine used over `ms` while this benchmark itself was idle. */
async function busyCores(ms: number): Promise<number> {
  const before = await machineBusyMs();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((await machineBusyMs()) - before) / ms;
}

/**
 * Waits, at most `maxWaitMs`, until others use less than `maxCores` (sampled over 5 s while this
 * process is idle), and says what it found. The 1-minute load average cannot tell: it still
 * counts this benchmark's own previous round.
 */
export async function waitForQuiet(maxCores: number, maxWaitMs: number, log: (line: string) => void): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let cores = await busyCores(5_000);
  while (cores > maxCores && Date.now() < deadline) {
    log(`    others use ${cores.toFixed(2)} cores; waiting for < ${maxCores}`);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    cores = await busyCores(5_000);
  }
  return cores;
}
