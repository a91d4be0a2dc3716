/**
 * The `usage` use case: preflight -> list the blob store -> scan and plan every repository (as the
 * cleanup plans it, with the same grace period) -> the usage report. Reads only: nothing is
 * deleted, and GitLab is asked only which project owns each repository, when a lookup is given.
 * No console and no process here: the CLI renders what the events and the report say.
 */
import { planRepository } from "./core/plan.js";
import { gracePolicy } from "./core/policy.js";
import { candidateProjectPaths, type RepositoryName } from "./core/repository-name.js";
import type { StorageWarning } from "./core/types.js";
import { repositoryFacts, UsageLedger, type UsageReport } from "./core/usage.js";
import { forEachBounded } from "./execute/pool.js";
import type { GitLabApi } from "./gitlab/ports.js";
import type { StorageReader } from "./storage/storage-reader.js";

export interface UsageDependencies {
  storage: Pick<StorageReader, "listRepositories" | "readRepository" | "listBlobs" | "repositoriesAtOnce">;
  /**
   * Checks that must pass before anything is read (storage root, metadata database). The report
   * deletes nothing, so a provisional pass (a lone filesystem-in-use lockfile) stands.
   */
  preflight: () => Promise<unknown>;
  /** The GitLab project owning a repository, null when there is none (see projectLookup). */
  projectOf?: (name: RepositoryName) => Promise<string | null>;
  now: () => number;
}

export interface UsageOptions {
  /** Untagged manifests younger than this are kept, as the cleanup keeps them (`--min-age`). */
  minAgeMs: number;
  /** Repositories read at once. Default 8, as the cleanup's scan. */
  scanConcurrency?: number;
}

/** What the CLI may listen to. All optional. */
export interface UsageEvents {
  warning?(warning: StorageWarning): void;
  /** The blob store is being listed (before the scan: sizes come from it). */
  measuring?(): void;
  scanProgress?(progress: { repositories: number; manifests: number }): void;
}

export interface UsageResult {
  report: UsageReport;
  warnings: number;
  /** Stopped by the signal: the report covers the repositories scanned until then. */
  interrupted: boolean;
}

/** Reads the storage and reports where its space goes. Throws CleanupError subclasses. */
export async function runUsage(
  deps: UsageDependencies,
  options: UsageOptions,
  events: UsageEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<UsageResult> {
  let warnings = 0;
  const warn = (warning: StorageWarning): void => {
    warnings++;
    events.warning?.(warning);
  };
  await deps.preflight();
  events.measuring?.();
  const ledger = await UsageLedger.fromBlobStore(untilAborted(deps.storage.listBlobs(warn), signal));
  const policy = gracePolicy(options.minAgeMs);
  let repositories = 0;
  let manifests = 0;
  await forEachBounded(deps.storage.listRepositories(warn), options.scanConcurrency ?? deps.storage.repositoriesAtOnce ?? 8, async (name) => {
    const [snapshot, project] = await Promise.all([deps.storage.readRepository(name), deps.projectOf?.(name)]);
    const plan = planRepository(snapshot, { now: deps.now(), policy });
    plan.warnings.forEach(warn);
    ledger.add(repositoryFacts(snapshot, plan, project));
    repositories++;
    manifests += snapshot.revisions.length;
    events.scanProgress?.({ repositories, manifests });
  }, signal);
  return { report: ledger.report(), warnings, interrupted: signal.aborted };
}

/**
 * Which GitLab project owns a repository, as GitLab decides it (GITLAB.md §3): the longest of the
 * three longest path prefixes that is a project (core/repository-name.ts), or null. Each path is
 * asked once, however many repositories share it. Only an administrator's token sees every
 * project: for anyone else, null means "no project this token can see".
 */
export function projectLookup(api: Pick<GitLabApi, "projectExists">): (name: RepositoryName) => Promise<string | null> {
  const asked = new Map<string, Promise<boolean>>();
  const exists = (path: string): Promise<boolean> => {
    let answer = asked.get(path);
    if (!answer) asked.set(path, (answer = api.projectExists(path)));
    return answer;
  };
  return async (name) => {
    for (const path of candidateProjectPaths(name)) if (await exists(path)) return path;
    return null;
  };
}

/** Stops listing when the signal aborts (the report then covers no repository, and says it was interrupted). */
async function* untilAborted<T>(items: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  for await (const item of items) {
    if (signal.aborted) return;
    yield item;
  }
}
