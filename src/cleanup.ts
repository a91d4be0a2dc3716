/**
 * The one use case: preflight -> scan and plan -> access -> confirm -> execute -> report.
 * No console and no process here: the CLI renders what the events and the report say.
 */
import { type RepositoryName } from "./core/repository-name.js";
import { SafetyRefusal } from "./core/errors.js";
import { planRepository } from "./core/plan.js";
import { emptyReport, type CleanupReport, type ManifestOutcome, type SkippedRepository } from "./core/report.js";
import type { RepositoryPlan, StorageWarning } from "./core/types.js";
import { checkAccess } from "./access.js";
import { executeRepository, type RepositoryWork } from "./execute/execute-repository.js";
import type { JournalWriter } from "./execute/journal.js";
import { forEachBounded, Semaphore } from "./execute/pool.js";
import type { GitLabApi, GitLabUser, TokenProvider } from "./gitlab/ports.js";
import type { RegistryApi } from "./registry/ports.js";
import { DeletesDisabledError } from "./registry/registry-error.js";
import type { StorageReader } from "./storage/storage-reader.js";

export interface CleanupDependencies {
  storage: StorageReader;
  tokens: TokenProvider;
  registry: RegistryApi;
  /** The REST API; only usable when the secret is a token. */
  gitlab?: GitLabApi;
  /** Checks that must pass before anything is read or asked (storage root, metadata database). */
  preflight: () => Promise<void>;
  /** Opens the journal; called only when something is about to be deleted. */
  openJournal?: () => Promise<JournalWriter>;
  now: () => number;
  runId: string;
}

export interface CleanupOptions {
  dryRun: boolean;
  minAgeMs: number;
  /** Requests in flight across the whole run. */
  concurrency: number;
  /** DELETEs in flight in one repository (each makes the registry read all its tags). */
  perRepository?: number;
  /** Repositories read from disk at once. */
  scanConcurrency?: number;
}

/** Totals shown before asking for confirmation. */
export interface PlanTotals {
  repositories: number;
  candidates: number;
}

/** What the CLI may listen to. All optional. */
export interface CleanupEvents {
  warning?(warning: StorageWarning): void;
  signedIn?(user: GitLabUser | undefined): void;
  scanProgress?(progress: { repositories: number; manifests: number }): void;
  planned?(plan: RepositoryPlan): void;
  skipped?(skipped: SkippedRepository): void;
  confirm?(totals: PlanTotals): Promise<boolean>;
  outcome?(outcome: ManifestOutcome): void;
}

/** Runs a cleanup (or a dry run) and reports what happened. Throws CleanupError subclasses. */
export async function runCleanup(
  deps: CleanupDependencies,
  options: CleanupOptions,
  events: CleanupEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<CleanupReport> {
  const report = emptyReport(options.dryRun);
  await deps.preflight();
  await deps.tokens.verifyCredentials();
  const user = deps.gitlab ? await deps.gitlab.currentUser() : undefined;
  events.signedIn?.(user);
  try {
    const work = await scanAndPlan(deps, options, events, report, signal);
    if (work.length > 0 && !signal.aborted) await cleanRepositories(work, user ? deps.gitlab : undefined, deps, options, events, report, signal);
  } finally {
    report.tokenRequests = deps.tokens.requestCount;
    report.interrupted = signal.aborted;
  }
  return report;
}

async function scanAndPlan(
  deps: CleanupDependencies, options: CleanupOptions, events: CleanupEvents, report: CleanupReport, signal: AbortSignal,
): Promise<RepositoryWork[]> {
  const work: RepositoryWork[] = [];
  const warn = (warning: StorageWarning): void => {
    report.warnings++;
    events.warning?.(warning);
  };
  await forEachBounded(deps.storage.listRepositories(warn), options.scanConcurrency ?? 8, async (name) => {
    const snapshot = await deps.storage.readRepository(name);
    const plan = planRepository(snapshot, { now: deps.now(), minAgeMs: options.minAgeMs });
    report.repositories++;
    report.manifests += snapshot.revisions.length;
    report.tags += snapshot.tags.size;
    for (const kept of plan.kept) report.kept[kept.reason.kind]++;
    report.candidates += plan.candidates.length;
    plan.warnings.forEach(warn);
    events.planned?.(plan);
    events.scanProgress?.({ repositories: report.repositories, manifests: report.manifests });
    if (plan.candidates.length > 0) work.push({ name, tags: plan.tags, candidates: plan.candidates });
  }, signal);
  // Scanning in parallel finishes repositories out of order; the report should not.
  return work.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function cleanRepositories(
  work: RepositoryWork[], api: GitLabApi | undefined, deps: CleanupDependencies, options: CleanupOptions,
  events: CleanupEvents, report: CleanupReport, signal: AbortSignal,
): Promise<void> {
  const access = await checkAccess(work.map((w) => w.name), deps.tokens, api);
  const counts = new Map<RepositoryName, number>(work.map((w) => [w.name, w.candidates.length]));
  for (const refused of access.refused) skip({ ...refused, candidates: counts.get(refused.name) ?? 0 }, events, report);
  const allowed = work.filter((w) => access.deletable.has(w.name));
  if (allowed.length === 0) return;
  const facts = await deps.registry.ping(allowed[0]!.name);
  if (facts.databaseEnabled === true) {
    throw new SafetyRefusal(
      "The registry reports that its metadata database is enabled (Gitlab-Container-Registry-Database-Enabled: true). " +
        "The storage on disk is then not the source of truth and a disk-based cleanup would delete tagged images; " +
        "the registry's online garbage collection already removes untagged manifests. Nothing was deleted.",
    );
  }
  const totals = { repositories: allowed.length, candidates: allowed.reduce((n, w) => n + w.candidates.length, 0) };
  if (!options.dryRun && events.confirm && !(await events.confirm(totals))) {
    report.cancelled = true;
    return;
  }
  await executeAll(allowed, deps, options, events, report, signal);
}

async function executeAll(
  work: RepositoryWork[], deps: CleanupDependencies, options: CleanupOptions,
  events: CleanupEvents, report: CleanupReport, signal: AbortSignal,
): Promise<void> {
  const journal = options.dryRun ? undefined : await deps.openJournal?.();
  if (journal) report.journalPath = journal.path;
  // Stopping the run (deletes disabled) must not look like a user interrupt.
  const stop = new AbortController();
  const abortAll = AbortSignal.any([signal, stop.signal]);
  const slots = new Semaphore(options.concurrency);
  const emit = (outcome: ManifestOutcome): void => {
    report.outcomes[outcome.kind]++;
    events.outcome?.(outcome);
  };
  try {
    await forEachBounded(work, options.concurrency, async (item) => {
      try {
        const skipped = await executeRepository(item, {
          storage: deps.storage, registry: deps.registry, runId: deps.runId, dryRun: options.dryRun, now: deps.now,
          minAgeMs: options.minAgeMs, perRepository: options.perRepository ?? 4, slots, signal: abortAll, emit,
          ...(journal ? { journal } : {}),
        });
        if (skipped) skip(skipped, events, report);
      } catch (error) {
        if (error instanceof DeletesDisabledError) {
          report.stoppedBecause ??= error.message;
          stop.abort();
          return;
        }
        // One repository failing (a disk read, say) must not abandon the others.
        skip({ name: item.name, reason: "error", detail: messageOf(error), candidates: item.candidates.length }, events, report);
      }
    }, abortAll);
  } finally {
    await journal?.close();
  }
}

function skip(skipped: SkippedRepository, events: CleanupEvents, report: CleanupReport): void {
  report.skipped.push(skipped);
  events.skipped?.(skipped);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
