/**
 * `node .build/bench/alloc-profile.js <root>`: runs the tool's dry run of a cached tree in process
 * (toolScan, as scenario 1 does) under V8's sampling heap profiler, counting objects the garbage
 * collector has already freed too, and prints where the bytes were allocated, by function. A warm
 * scan is bound by its main thread, and allocation is a large part of that (docs/performance.md).
 */
import { Session } from "node:inspector/promises";
import { frameLabel } from "./profile.js";
import { toolScan } from "./scan.js";

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Allocated bytes per function (self), largest first. */
export function allocationsByFunction(head: SamplingNode, top = 25): string[] {
  const bytes = new Map<string, number>();
  const visit = (node: SamplingNode): void => {
    const name = frameLabel(node.callFrame);
    bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
    node.children.forEach(visit);
  };
  visit(head);
  const total = [...bytes.values()].reduce((a, b) => a + b, 0);
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  return [
    `allocated ${mb(total)} MB (sampled)`,
    ...[...bytes].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, n]) => `  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${mb(n).padStart(6)} MB  ${name}`),
  ];
}

if (process.argv[1]?.endsWith("/bench/alloc-profile.js")) {
  const root = process.argv[2];
  if (!root) throw new Error("usage: alloc-profile.js <storage root>");
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  });
  const result = await toolScan(root);
  const { profile } = await session.post("HeapProfiler.stopSampling");
  process.stdout.write(`${JSON.stringify(result)}\n${allocationsByFunction(profile.head as SamplingNode).join("\n")}\n`);
  session.disconnect();
}
