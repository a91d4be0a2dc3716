/**
 * The one use case: preflight -> scan and plan -> access -> confirm -> execute -> report.
 * No console and no process here: the CLI renders what the events and the report say.
 */
import type { Digest } from "./core/digest.js";
import { SafetyRefusal } from "./core/errors.js";
import { gracePolicy, type RunPolicy, type TagDeletionCount } from "./core/policy.js";
import type { ProtectedPattern } from "./core/retention.js";
import type { ProjectRulesLookup } from "./project-rules.js";
import {
  emptyReport, emptyRepositoryReport, emptyTagReport,
  type CleanupReport, type ManifestOutcome, type OrphanRepository, type RepairOutcome, type RepositoryOutcome, type SkippedRepository,
  type TagOutcome,
} from "./core/report.js";
import type { RepositoryName } from "./core/repository-name.js";
import { CandidateBlobs } from "./core/candidate-blobs.js";
import { addGcHazard, removeGcHazard } from "./core/gc-hazards.js";
import { SpaceLedger } from "./core/space.js";
import type { RepositoryPlan, StorageWarning } from "./core/types.js";
import { checkAccess } from "./access.js";
import type { PreflightResult } from "./preflight.js";
import { measuredOrphans, orphanOf } from "./orphans.js";
import { deleteEmptyRepositories, EmptyRepositoryTracker } from "./empty-repositories.js";
import { CandidateList } from "./execute/candidate-list.js";
import { Channel } from "./execute/channel.js";
import { executeRepository, type RepositoryWork } from "./execute/execute-repository.js";
import { TagListsAhead } from "./execute/tags-ahead.js";
import { FirstDeleteCheck, StorageMismatchError } from "./execute/first-delete-check.js";
import { JournalWriteError, type JournalWriter } from "./execute/journal.js";
import type { ManifestWriter } from "./execute/repair.js";
import { forEachBounded, Semaphore } from "./execute/pool.js";
import type { GitLabApi, GitLabUser, RegistryRepositories, TokenProvider } from "./gitlab/ports.js";
import type { RegistryApi, TagDeleter } from "./registry/ports.js";
import { DeletesDisabledError } from "./registry/registry-error.js";
import { refuseOverMaxDelete, scanAndPlan, withProjectRules } from "./scan-plan.js";
import type { StorageReader } from "./storage/storage-reader.js";

export interface CleanupDependencies {
  storage: StorageReader;
  tokens: TokenProvider;
  registry: RegistryApi;
  /** The REST API; only usable when the secret is a token. */
  gitlab?: GitLabApi;
  /** GitLab's records of container repositories: needed with `deleteEmptyRepositories`. */
  registryRepositories?: RegistryRepositories;
  /** Checks that must pass before anything is read or asked (storage root, metadata database). */
  preflight: () => Promise<PreflightResult | void>;
  /** Opens the journal; called only when something is about to be deleted. */
  openJournal?: () => Promise<JournalWriter>;
  /** Deletes tags by name: needed when the policy has retention rules. */
  tagDeleter?: TagDeleter;
  /** Puts back what a push during the deletes needed (`pull,push` tokens, asked for only then): execute/repair.ts. */
  manifestWriter?: ManifestWriter;
  /** What each repository's GitLab project says: its cleanup policy (--gitlab-policies), its protected tags. */
  projectRules?: ProjectRulesLookup;
  /** Patterns that protect a repository's tags (GitLab's rules, its token's patterns), asked before its tags go. */
  tagProtection?: (name: RepositoryName) => Promise<readonly ProtectedPattern[]>;
  now: () => number;
  runId: string;
}

export interface CleanupOptions {
  dryRun: boolean;
  /** The grace period, when no `policy` is given. */
  minAgeMs: number;
  /** The run's rules (grace period, repository filters, tag retention); default: `minAgeMs` alone. */
  policy?: RunPolicy;
  /** Requests in flight across the whole run. */
  concurrency: number;
  /** DELETEs in flight in one repository (each makes the registry read all its tags). */
  perRepository?: number;
  /** Repositories read from disk at once. */
  scanConcurrency?: number;
  /** After the run, delete in GitLab each repository it left with no tag and no manifest (empty-repositories.ts). */
  deleteEmptyRepositories?: boolean;
}

/** Totals shown before asking for confirmation. */
export interface PlanTotals {
  repositories: number;
  candidates: number;
  /** Tags retention deletes there (0 without a rule). */
  tags: number;
  /** With deleteEmptyRepositories: repositories the run may leave empty, to delete in GitLab afterwards. */
  emptyRepositories?: number;
}

/** What the CLI may listen to. All optional. */
export interface CleanupEvents {
  warning?(warning: StorageWarning): void;
  signedIn?(user: GitLabUser | undefined): void;
  scanProgress?(progress: { repositories: number; manifests: number }): void;
  planned?(plan: RepositoryPlan): void;
  skipped?(skipped: SkippedRepository): void;
  confirm?(totals: PlanTotals): Promise<boolean>;
  /** Deletion starts: `total` candidates in repositories that may be cleaned. */
  executing?(total: number): void;
  outcome?(outcome: ManifestOutcome): void;
  /** A tag retention deleted, would delete, or in the end did not. */
  tagOutcome?(outcome: TagOutcome): void;
  /** The blob store is being measured for the space estimate. */
  measuring?(): void;
  /** A deleted manifest a push during the run needed was put back, or could not be. */
  repaired?(outcome: RepairOutcome): void;
  /** A repository left empty was deleted in GitLab, would be, or in the end was not. */
  repositoryOutcome?(outcome: RepositoryOutcome): void;
}

/** Outcomes after which the revision link is gone (or, in a dry run, would be). */
const GONE = new Set<ManifestOutcome["kind"]>(["deleted", "would-delete", "already-gone"]);

/** One run's state, shared by its phases (scan-plan.ts is the first). */
export interface Run {
  deps: CleanupDependencies;
  options: CleanupOptions;
  events: CleanupEvents;
  report: CleanupReport;
  signal: AbortSignal;
  ledger: SpaceLedger;
  policy: RunPolicy;
  /** Per repository being executed: the candidates whose revision link went (or would). */
  gone: Map<RepositoryName, Set<Digest>>;
  /** Per repository with candidates: their blobs, in candidate order. */
  blobs: Map<RepositoryName, CandidateBlobs>;
  /** Tags retention deletes and tags in all, per repository with deletions, for --max-delete. */
  tagCounts: TagDeletionCount[];
  /** What GitLab projects' policies made of, warned about once each. */
  projectWarnings: Set<string>;
  /** The repositories refused as orphans, measured with the space estimate. */
  orphans: OrphanRepository[];
  warn: (warning: StorageWarning) => void;
  /** A dry run's cross-checks, asked for as the scan plans each repository (execute/tags-ahead.ts). */
  tagsAhead?: TagListsAhead;
}

/** Runs a cleanup (or a dry run) and reports what happened. Throws CleanupError subclasses. */
export async function runCleanup(
  deps: CleanupDependencies,
  options: CleanupOptions,
  given: CleanupEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<CleanupReport> {
  const report = emptyReport(options.dryRun);
  const empties = options.deleteEmptyRepositories ? new EmptyRepositoryTracker() : undefined;
  if (empties) report.emptyRepositories = emptyRepositoryReport();
  const events = empties ? empties.listen(given) : given;
  const warn = (warning: StorageWarning): void => {
    report.warnings++;
    addGcHazard(report, warning);
    events.warning?.(warning);
  };
  const policy = options.policy ?? gracePolicy(options.minAgeMs);
  if (policy.retention) report.tagRetention = emptyTagReport();
  const run: Run = {
    deps, options, events, report, signal, ledger: new SpaceLedger(), policy: withProjectRules(policy), gone: new Map(), blobs: new Map(),
    tagCounts: [], warn, projectWarnings: new Set(), orphans: [],
    ...(options.dryRun ? tagListsAhead(deps, options.concurrency) : {}),
  };
  const preflight = await deps.preflight();
  await deps.tokens.verifyCredentials();
  const user = deps.gitlab ? await deps.gitlab.currentUser() : undefined;
  if (user) report.administrator = user.isAdmin;
  events.signedIn?.(user);
  try {
    // Only an administrator sees every project, so only their view can tell orphans apart.
    const api = user?.isAdmin ? deps.gitlab : undefined;
    if (options.dryRun) await previewRepositories(run, api, preflight);
    else await cleanRepositories(run, api, preflight);
    if (!report.cancelled) {
      if (empties && !signal.aborted && report.stoppedBecause === undefined) await deleteEmptyRepositories(run, empties);
      events.measuring?.();
      const measured = await run.ledger.measure(deps.storage.listBlobs(warn), { repositories: run.orphans.map((o) => o.name) });
      report.space = measured.space;
      report.orphans = measuredOrphans(run.orphans, measured.repositories);
    }
  } finally {
    report.tokenRequests = deps.tokens.requestCount;
    report.interrupted = signal.aborted;
  }
  return report;
}

/** Where the tokens can be asked for ahead without more `/jwt/auth` requests. */
function tagListsAhead(deps: CleanupDependencies, concurrency: number): { tagsAhead?: TagListsAhead } {
  const { tokens } = deps;
  if (!tokens.authorizeAhead) return {};
  return { tagsAhead: new TagListsAhead({ authorizeAhead: (name) => tokens.authorizeAhead!(name) }, deps.registry, concurrency) };
}

/**
 * Moves a repository's candidates into the space ledger (released if their link went, else kept)
 * and lets go of them: done as soon as the repository is finished, memory follows the
 * repositories in flight rather than every candidate of the run. Settling twice is a no-op.
 */
function settle(run: Run, item: RepositoryWork): void {
  const gone = run.gone.get(item.name);
  const blobs = run.blobs.get(item.name);
  if (blobs) {
    const isGone = item.candidates.toArray().map((candidate) => gone?.has(candidate.digest) === true);
    run.ledger.keep(blobs.keysOf((i) => !isGone[i]), item.name);
    run.ledger.release(item.name, gone?.size ?? 0, blobs.keysOf((i) => isGone[i]!));
  }
  item.candidates = CandidateList.empty;
  run.gone.delete(item.name);
  run.blobs.delete(item.name);
}

/**
 * A real run: the whole registry is scanned and planned first, since --max-delete and the
 * confirmation judge the whole plan before the first DELETE; then its repositories are cleaned.
 */
async function cleanRepositories(run: Run, api: GitLabApi | undefined, preflight: PreflightResult | void): Promise<void> {
  const work: RepositoryWork[] = [];
  await scanAndPlan(run, (item) => work.push(item));
  refuseOverMaxDelete(run);
  if (work.length > 0 && !run.signal.aborted) await executePlanned(run, work, api, preflight);
  if (!run.report.cancelled) for (const item of work) settle(run, item);
}

async function executePlanned(
  run: Run, work: RepositoryWork[], api: GitLabApi | undefined, preflight: PreflightResult | void,
): Promise<void> {
  const { events, report } = run;
  const allowed = await admit(run, work, api);
  if (allowed.length === 0) return;
  await openRegistry(run, allowed[0]!.name, preflight);
  const totals = {
    repositories: allowed.length,
    candidates: allowed.reduce((n, w) => n + w.candidates.length, 0),
    tags: allowed.reduce((n, w) => n + (w.tagDeletions?.length ?? 0), 0),
  };
  if (events.confirm && !(await events.confirm(totals))) {
    report.cancelled = true;
    return;
  }
  events.executing?.(totals.candidates);
  await executeAll(run, allowed);
}

/**
 * A dry run, streamed: each repository is checked for access and previewed as soon as the scan
 * hands it on, so that the run holds the repositories between the two, not every candidate of
 * the registry until the scan ends (on a million manifests that was ~50 MB of packed candidates,
 * and the peak RSS of L crossed 300 MB: docs/performance.md, a ninth session), and it prints
 * while it scans. A real run cannot: its confirmation and --max-delete need the whole plan.
 */
async function previewRepositories(run: Run, api: GitLabApi | undefined, preflight: PreflightResult | void): Promise<void> {
  const planned = new Channel<RepositoryWork>();
  const halt = new AbortController();
  const scanned = scanAndPlan(run, (item) => planned.push(item), AbortSignal.any([run.signal, halt.signal]))
    .then(() => planned.close(), (error: unknown) => planned.fail(error));
  let opened = false;
  async function* admitted(): AsyncGenerator<RepositoryWork> {
    for await (const item of planned) {
      // Its token was asked for ahead, in a request shared with the next repositories: waited for
      // while the scan can still fill that request, so that checking access adds none.
      await Promise.race([run.tagsAhead?.granted(item.name), scanned]);
      const [allowed] = await admit(run, [item], api);
      if (!allowed) continue;
      if (!opened) await openRegistry(run, allowed.name, preflight);
      opened = true;
      yield allowed;
    }
  }
  try {
    await executeAll(run, admitted());
  } catch (error) {
    halt.abort();
    await scanned;
    throw error;
  }
  // Stopped early or not (the registry is not the storage's), the scan goes to its end: the space
  // estimate must count what every repository keeps, or their blobs would look freed.
  await scanned;
  for (const item of planned.drain()) settle(run, item);
  refuseOverMaxDelete(run);
}

/** Sorts `work` by whether the credentials may delete there; the refused are reported and settled. */
async function admit(run: Run, work: RepositoryWork[], api: GitLabApi | undefined): Promise<RepositoryWork[]> {
  const access = await checkAccess(work.map((w) => w.name), run.deps.tokens, { api, administrator: () => isAdministrator(run) });
  const byName = new Map<RepositoryName, RepositoryWork>(work.map((w) => [w.name, w]));
  for (const refused of access.refused) {
    const item = byName.get(refused.name)!;
    if (refused.reason === "orphan") run.orphans.push(orphanOf(item));
    skip(run, { ...refused, candidates: item.candidates.length, bytes: item.bytes });
    settle(run, item);
  }
  return work.filter((w) => access.deletable.has(w.name));
}

/**
 * Asks the registry about itself through the first repository to clean, once, before the first
 * DELETE and before a dry run reports what it would delete.
 */
async function openRegistry(run: Run, first: RepositoryName, preflight: PreflightResult | void): Promise<void> {
  const facts = await run.deps.registry.ping(first);
  if (facts.databaseEnabled === true) {
    throw new SafetyRefusal(
      "The registry reports that its metadata database is enabled (Gitlab-Container-Registry-Database-Enabled: true). " +
        "The storage on disk is then not the source of truth and a disk-based cleanup would delete tagged images; " +
        "the registry's online garbage collection already removes untagged manifests. Nothing was deleted.",
    );
  }
  preflight?.confirm(facts.databaseEnabled);
}

async function executeAll(run: Run, work: Iterable<RepositoryWork> | AsyncIterable<RepositoryWork>): Promise<void> {
  const { deps, options, events, report } = run;
  const journal = options.dryRun ? undefined : await deps.openJournal?.();
  // Stopping the run (deletes disabled) must not look like a user interrupt.
  const stop = new AbortController();
  const abortAll = AbortSignal.any([run.signal, stop.signal]);
  const slots = new Semaphore(options.concurrency);
  const emitTag = (outcome: TagOutcome): void => {
    if (report.tagRetention) report.tagRetention.outcomes[outcome.kind]++;
    events.tagOutcome?.(outcome);
  };
  const emit = (outcome: ManifestOutcome): void => {
    report.outcomes[outcome.kind]++;
    if (GONE.has(outcome.kind)) {
      let gone = run.gone.get(outcome.repository);
      if (!gone) run.gone.set(outcome.repository, (gone = new Set()));
      gone.add(outcome.digest);
      // Deleted, it no longer stops garbage collection (a manifest of a media type it cannot decode).
      removeGcHazard(report, outcome.repository, outcome.digest);
    }
    events.outcome?.(outcome);
  };
  const emitRepair = (outcome: RepairOutcome): void => {
    report.repairs.push(outcome);
    // Put back: its blobs stay referenced, so it frees nothing.
    if (outcome.kind === "restored" && outcome.digest !== undefined) run.gone.get(outcome.repository)?.delete(outcome.digest);
    events.repaired?.(outcome);
  };
  const context = {
    storage: deps.storage, registry: deps.registry, runId: deps.runId, dryRun: options.dryRun, now: deps.now,
    policy: run.policy, perRepository: options.perRepository ?? 4, slots, signal: abortAll, emit, emitTag,
    ...(deps.tagDeleter ? { tagDeleter: deps.tagDeleter } : {}), ...(deps.tagProtection ? { tagProtection: deps.tagProtection } : {}),
    firstDelete: new FirstDeleteCheck(deps.storage),
    ...(journal ? { journal } : {}),
    emitRepair, ...(deps.manifestWriter ? { writer: deps.manifestWriter } : {}), warn: run.warn,
    ...(run.tagsAhead ? { tagsAhead: run.tagsAhead } : {}),
  };
  // Repairs still running after their repository's last DELETE; each settles its repository when done.
  const aftercare: Array<Promise<void>> = [];
  try {
    await forEachBounded(work, options.concurrency, async (item) => {
      let repairs: Promise<void> | undefined;
      try {
        const skipped = await executeRepository(item, { ...context, afterwards: (done) => void (repairs = done) });
        if (skipped) skip(run, skipped);
      } catch (error) {
        // Each stops the whole run: deletes are refused, -r is not -p's registry, or the journal cannot be written.
        if (error instanceof DeletesDisabledError || error instanceof StorageMismatchError || error instanceof JournalWriteError) {
          report.stoppedBecause ??= error.message;
          if (error instanceof StorageMismatchError) report.stoppedBySafetyCheck = true;
          stop.abort();
          return;
        }
        // One repository failing (a disk read, say) must not abandon the others.
        skip(run, { name: item.name, reason: "error", detail: messageOf(error), candidates: item.candidates.length, bytes: item.bytes });
      } finally {
        if (repairs) aftercare.push(looked(repairs, item.name, emitRepair).then(() => settle(run, item)));
        else settle(run, item);
      }
    }, abortAll);
  } finally {
    await Promise.all(aftercare);
    await journal?.close();
    if (journal && journal.records > 0) report.journalPath = journal.path;
  }
}

/** The repairs of a repository; when the storage could not be looked at after its deletes, that is said. */
async function looked(repairs: Promise<void>, name: RepositoryName, emitRepair: (outcome: RepairOutcome) => void): Promise<void> {
  try {
    await repairs;
  } catch (error) {
    emitRepair({
      repository: name, tags: [], kind: "unresolved",
      reason: `the repository could not be read again after its deletes (${messageOf(error)}), so a push during them may have lost a tag`,
    });
  }
}

/**
 * Whether GitLab treats the user as an administrator: the REST API said so for a token; for a
 * password it is asked once, through the `registry:catalog:*` scope, when a repository is refused.
 */
async function isAdministrator(run: Run): Promise<boolean> {
  run.report.administrator ??= await run.deps.tokens.isAdministrator?.();
  return run.report.administrator === true;
}

function skip(run: Run, skipped: SkippedRepository): void {
  run.report.skipped.push(skipped);
  run.events.skipped?.(skipped);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
