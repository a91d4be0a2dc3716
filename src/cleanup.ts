/**
 * The one use case: preflight -> scan and plan -> access -> confirm -> execute -> report.
 * No console and no process here: the CLI renders what the events and the report say.
 */
import type { Digest } from "./core/digest.js";
import { SafetyRefusal } from "./core/errors.js";
import { planRepository } from "./core/plan.js";
import { checkMaxDelete, effectiveMaxDelete, gracePolicy, repositoryIncluded, type RunPolicy, type TagDeletionCount } from "./core/policy.js";
import type { DeletedTag, ProtectedPattern, RetentionRules } from "./core/retention.js";
import type { ProjectRulesLookup } from "./project-rules.js";
import { emptyReport, emptyTagReport, type CleanupReport, type ManifestOutcome, type SkippedRepository, type TagOutcome } from "./core/report.js";
import type { RepositoryName } from "./core/repository-name.js";
import { CandidateBlobs } from "./core/candidate-blobs.js";
import { blobKey, markedBlobs, SpaceLedger } from "./core/space.js";
import type { RepositoryPlan, RepositorySnapshot, StorageWarning } from "./core/types.js";
import { checkAccess } from "./access.js";
import { CandidateList } from "./execute/candidate-list.js";
import { executeRepository, type RepositoryWork } from "./execute/execute-repository.js";
import { FirstDeleteCheck, StorageMismatchError } from "./execute/first-delete-check.js";
import { repositoryStamp } from "./execute/recheck.js";
import type { JournalWriter } from "./execute/journal.js";
import { forEachBounded, Semaphore } from "./execute/pool.js";
import type { GitLabApi, GitLabUser, TokenProvider } from "./gitlab/ports.js";
import type { RegistryApi, TagDeleter } from "./registry/ports.js";
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
  /** Deletes tags by name: needed when the policy has retention rules. */
  tagDeleter?: TagDeleter;
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
}

/** Totals shown before asking for confirmation. */
export interface PlanTotals {
  repositories: number;
  candidates: number;
  /** Tags retention deletes there (0 without a rule). */
  tags: number;
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
}

/** Outcomes after which the revision link is gone (or, in a dry run, would be). */
const GONE = new Set<ManifestOutcome["kind"]>(["deleted", "would-delete", "already-gone"]);

/** One run's state, shared by its phases. */
interface Run {
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
  warn: (warning: StorageWarning) => void;
}

/** Runs a cleanup (or a dry run) and reports what happened. Throws CleanupError subclasses. */
export async function runCleanup(
  deps: CleanupDependencies,
  options: CleanupOptions,
  events: CleanupEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<CleanupReport> {
  const report = emptyReport(options.dryRun);
  const warn = (warning: StorageWarning): void => {
    report.warnings++;
    events.warning?.(warning);
  };
  const policy = options.policy ?? gracePolicy(options.minAgeMs);
  if (policy.retention) report.tagRetention = emptyTagReport();
  const run: Run = {
    deps, options, events, report, signal, ledger: new SpaceLedger(), policy: withProjectRules(policy), gone: new Map(), blobs: new Map(),
    tagCounts: [], warn, projectWarnings: new Set(),
  };
  await deps.preflight();
  await deps.tokens.verifyCredentials();
  const user = deps.gitlab ? await deps.gitlab.currentUser() : undefined;
  events.signedIn?.(user);
  try {
    const work = await scanAndPlan(run);
    refuseOverMaxDelete(run);
    // Only an administrator sees every project, so only their view can tell orphans apart.
    if (work.length > 0 && !signal.aborted) await cleanRepositories(run, work, user?.isAdmin ? deps.gitlab : undefined);
    if (!report.cancelled) {
      for (const item of work) settle(run, item);
      events.measuring?.();
      report.space = await run.ledger.estimate(deps.storage.listBlobs(warn));
    }
  } finally {
    report.tokenRequests = deps.tokens.requestCount;
    report.interrupted = signal.aborted;
  }
  return report;
}

async function scanAndPlan(run: Run): Promise<RepositoryWork[]> {
  const { deps, options, report, events } = run;
  const work: RepositoryWork[] = [];
  await forEachBounded(deps.storage.listRepositories(run.warn), options.scanConcurrency ?? 8, async (name) => {
    if (!repositoryIncluded(run.policy, name)) return;
    // Anything linked after this moment counts as pushed mid-run when the repository is re-planned.
    const scannedAt = deps.now();
    const [snapshot, protectedTags] = await Promise.all([deps.storage.readRepository(name), askProject(run, name)]);
    const plan = planRepository(snapshot, { now: deps.now(), policy: run.policy, ...(protectedTags.length > 0 ? { protectedTags } : {}) });
    report.repositories++;
    report.manifests += snapshot.revisions.length;
    report.tags += snapshot.tags.size;
    for (const kept of plan.kept) report.kept[kept.reason.kind]++;
    report.candidates += plan.candidates.length;
    const tagDeletions = countTags(run, plan);
    plan.warnings.forEach(run.warn);
    keepInLedger(run.ledger, snapshot, plan);
    events.planned?.(plan);
    events.scanProgress?.({ repositories: report.repositories, manifests: report.manifests });
    if (plan.candidates.length > 0 || tagDeletions.length > 0) {
      run.blobs.set(name, CandidateBlobs.from(plan.candidates.map((candidate) => candidate.blobs)));
      const candidates = CandidateList.from(plan.candidates);
      const stamp = reusable(snapshot, scannedAt) ? repositoryStamp(snapshot.revisions, snapshot.tags) : undefined;
      work.push({
        name, tags: [...plan.tags.keys()], candidates, bytes: repositoryBytes(snapshot), scannedAt,
        ...(stamp ? { stamp } : {}), ...(tagDeletions.length > 0 ? { tagDeletions } : {}),
      });
    }
  }, run.signal);
  // Scanning in parallel finishes repositories out of order; the report should not.
  return work.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The run's policy with a map of the projects' own rules, filled as repositories are scanned. */
function withProjectRules(policy: RunPolicy): RunPolicy {
  if (!policy.retention) return policy;
  return { ...policy, retention: { ...policy.retention, projectRules: new Map(policy.retention.projectRules ?? []) } };
}

/**
 * With retention, asks GitLab what the repository's project says (once per project): its own
 * cleanup policy goes into the run's policy, its protected tags are returned for the plan.
 */
async function askProject(run: Run, name: RepositoryName): Promise<readonly ProtectedPattern[]> {
  const retention = run.policy.retention;
  if (!run.deps.projectRules || !retention) return [];
  const answer = await run.deps.projectRules(name);
  if (answer.rules !== undefined) (retention.projectRules as Map<string, RetentionRules | false>).set(name, answer.rules);
  for (const message of answer.warnings) {
    if (run.projectWarnings.has(message)) continue;
    run.projectWarnings.add(message);
    run.warn({ path: answer.project ?? name, message });
  }
  return answer.protectedTags;
}

/** Counts the plan's tag decisions into the report; returns the tags it deletes. */
function countTags(run: Run, plan: RepositoryPlan): DeletedTag[] {
  const decisions = plan.tagDecisions;
  const tags = run.report.tagRetention;
  if (!decisions || !tags) return [];
  for (const kept of decisions.kept) tags.kept[kept.reason.kind]++;
  tags.planned += decisions.deleted.length;
  if (decisions.deleted.length > 0) {
    run.tagCounts.push({ name: plan.name, tagsDeleted: decisions.deleted.length, tagsTotal: plan.tags.size });
  }
  return decisions.deleted;
}

/**
 * --max-delete: a plan that deletes more tags than allowed is refused whole before anything is
 * deleted (exit 3); a dry run shows it all the same and ends with the refusal.
 */
function refuseOverMaxDelete(run: Run): void {
  const refusal = checkMaxDelete(effectiveMaxDelete(run.policy), run.tagCounts);
  if (refusal === undefined) return;
  if (!run.options.dryRun) throw new SafetyRefusal(`${refusal} Nothing was deleted.`);
  run.report.stoppedBecause = refusal;
  run.report.stoppedBySafetyCheck = true;
}

/**
 * Whether the plan of this snapshot may be used for deleting if the disk is unchanged when the
 * repository's turn comes: only when everything was read cleanly and nothing was linked after the
 * scan began (a link caught mid-write, or a push during the scan, calls for a fresh plan).
 */
function reusable(snapshot: RepositorySnapshot, scannedAt: number): boolean {
  return snapshot.warnings.length === 0 && snapshot.unreadableTags.length === 0 &&
    snapshot.revisions.every((revision) => revision.manifest !== undefined && revision.linkedAt < scannedAt);
}

/** Kept manifests mark their blobs now; candidates are settled once their outcome is known. */
function keepInLedger(ledger: SpaceLedger, snapshot: RepositorySnapshot, plan: RepositoryPlan): void {
  const candidates = new Set<Digest>(plan.candidates.map((candidate) => candidate.digest));
  for (const revision of snapshot.revisions) {
    if (!candidates.has(revision.digest)) ledger.keep(markedBlobs(revision).map(blobKey));
  }
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
    run.ledger.keep(blobs.keysOf((i) => !isGone[i]));
    run.ledger.release(item.name, gone?.size ?? 0, blobs.keysOf((i) => isGone[i]!));
  }
  item.candidates = CandidateList.empty;
  run.gone.delete(item.name);
  run.blobs.delete(item.name);
}

/** Distinct blobs the repository's manifests reference, by their declared sizes. */
function repositoryBytes(snapshot: RepositorySnapshot): number {
  const sizes = new Map<Digest, number>();
  for (const revision of snapshot.revisions) {
    sizes.set(revision.digest, revision.manifestSize ?? 0);
    for (const blob of revision.manifest?.blobs ?? []) sizes.set(blob.digest, blob.size);
  }
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

async function cleanRepositories(run: Run, work: RepositoryWork[], api: GitLabApi | undefined): Promise<void> {
  const { deps, options, events, report } = run;
  const access = await checkAccess(work.map((w) => w.name), deps.tokens, api);
  const byName = new Map<RepositoryName, RepositoryWork>(work.map((w) => [w.name, w]));
  for (const refused of access.refused) {
    const item = byName.get(refused.name)!;
    skip(run, { ...refused, candidates: item.candidates.length, bytes: item.bytes });
    settle(run, item);
  }
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
  const totals = {
    repositories: allowed.length,
    candidates: allowed.reduce((n, w) => n + w.candidates.length, 0),
    tags: allowed.reduce((n, w) => n + (w.tagDeletions?.length ?? 0), 0),
  };
  if (!options.dryRun && events.confirm && !(await events.confirm(totals))) {
    report.cancelled = true;
    return;
  }
  events.executing?.(totals.candidates);
  await executeAll(run, allowed);
}

async function executeAll(run: Run, work: RepositoryWork[]): Promise<void> {
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
    }
    events.outcome?.(outcome);
  };
  const context = {
    storage: deps.storage, registry: deps.registry, runId: deps.runId, dryRun: options.dryRun, now: deps.now,
    policy: run.policy, perRepository: options.perRepository ?? 4, slots, signal: abortAll, emit, emitTag,
    ...(deps.tagDeleter ? { tagDeleter: deps.tagDeleter } : {}), ...(deps.tagProtection ? { tagProtection: deps.tagProtection } : {}),
    firstDelete: new FirstDeleteCheck(deps.storage),
    ...(journal ? { journal } : {}),
  };
  try {
    await forEachBounded(work, options.concurrency, async (item) => {
      try {
        const skipped = await executeRepository(item, context);
        if (skipped) skip(run, skipped);
      } catch (error) {
        if (error instanceof DeletesDisabledError || error instanceof StorageMismatchError) {
          report.stoppedBecause ??= error.message;
          if (error instanceof StorageMismatchError) report.stoppedBySafetyCheck = true;
          stop.abort();
          return;
        }
        // One repository failing (a disk read, say) must not abandon the others.
        skip(run, { name: item.name, reason: "error", detail: messageOf(error), candidates: item.candidates.length, bytes: item.bytes });
      } finally {
        settle(run, item);
      }
    }, abortAll);
  } finally {
    await journal?.close();
    if (journal && journal.records > 0) report.journalPath = journal.path;
  }
}

function skip(run: Run, skipped: SkippedRepository): void {
  run.report.skipped.push(skipped);
  run.events.skipped?.(skipped);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
