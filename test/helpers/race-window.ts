/**
 * Measures, in process, how long a tag pushed onto a candidate could go unseen: from the start of
 * the last read of the repository (tags or full re-plan) before a DELETE to the registry's answer
 * to that DELETE. The cleanup's real parts run against the real registry; only timing is recorded.
 */
import { gracePolicy } from "../../src/core/policy.js";
import { CandidateList } from "../../src/execute/candidate-list.js";
import { FirstDeleteCheck } from "../../src/execute/first-delete-check.js";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { planRepository } from "../../src/core/plan.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import { executeRepository, type RepositoryWork } from "../../src/execute/execute-repository.js";
import { FileJournal } from "../../src/execute/journal.js";
import { forEachBounded, Semaphore } from "../../src/execute/pool.js";
import { GitLabTokenProvider } from "../../src/gitlab/token-provider.js";
import { createDispatcher } from "../../src/registry/http.js";
import { RegistryClient } from "../../src/registry/registry-client.js";
import type { RegistryApi } from "../../src/registry/ports.js";
import { FilesystemStorageReader } from "../../src/storage/filesystem-reader.js";
import type { StorageReader } from "../../src/storage/storage-reader.js";
import { ROOT, type Environment } from "./environment.js";
import type { RaceSetup } from "./race-setup.js";

export interface WindowStats {
  deletes: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Reads of the repository made to re-check, and the time they took in total. */
  rechecks: number;
  recheckMs: number;
  runMs: number;
}

/** Wraps `target` so that calls to `methods` report their start and end. */
function spy<T extends object>(target: T, methods: string[], record: (method: string, name: string, start: number, end: number) => void): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (!methods.includes(String(property))) return value.bind(object);
      return async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await value.apply(object, args);
        } finally {
          record(String(property), String(args[0]), start, performance.now());
        }
      };
    },
  });
}

/** Deletes every candidate of the setup's repositories as the CLI would, timing the re-check window. */
export async function measureWindow(env: Environment, setup: RaceSetup): Promise<WindowStats> {
  const reads = new Map<string, number[]>();
  let recheckMs = 0;
  const windows: number[] = [];
  const real = new FilesystemStorageReader(env.registry.storageRoot);
  const storage = spy<StorageReader>(real, ["readTags", "readRepository", "listRevisionDigests", "statRevisions"], (_m, name, start, end) => {
    (reads.get(name) ?? reads.set(name, []).get(name)!).push(start);
    recheckMs += end - start;
  });
  const dispatcher = createDispatcher({});
  const tokens = new GitLabTokenProvider({ gitlabUrl: new URL(env.gitlab.url), username: ROOT.username, secret: ROOT.secret, dispatcher });
  const registry = spy<RegistryApi>(new RegistryClient({ baseUrl: new URL(env.registry.url), tokens, dispatcher }), ["deleteManifest"],
    (_m, name, start, end) => windows.push(end - Math.max(...(reads.get(name) ?? [0]).filter((t) => t <= start))));
  const work: RepositoryWork[] = [];
  for (const repo of setup.repos) {
    const snapshot = await real.readRepository(repo as RepositoryName);
    const plan = planRepository(snapshot, { now: Date.now(), policy: gracePolicy(0) });
    work.push({ name: plan.name, tags: [...plan.tags.keys()], candidates: CandidateList.from(plan.candidates), bytes: 0 });
  }
  const journal = await FileJournal.open(join(await mkdtemp(join(env.dir, "window-")), "journal.jsonl"));
  const slots = new Semaphore(8);
  const started = performance.now();
  const context = {
    storage, registry, journal, runId: "window", dryRun: false, now: Date.now, policy: gracePolicy(0), emitTag: () => {}, perRepository: 4,
    slots, signal: new AbortController().signal, emit: () => {}, firstDelete: new FirstDeleteCheck(storage),
  };
  await forEachBounded(work, 8, async (item) => void (await executeRepository(item, context)));
  const runMs = performance.now() - started;
  await journal.close();
  await dispatcher.close();
  const sorted = windows.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  const rechecks = [...reads.values()].reduce((n, list) => n + list.length, 0);
  return { deletes: sorted.length, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: Math.round(sorted.at(-1) ?? 0), rechecks, recheckMs: Math.round(recheckMs), runMs: Math.round(runMs) };
}
