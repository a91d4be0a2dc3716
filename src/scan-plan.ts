/**
 * The first phase of a cleanup: every repository the policy includes is read from the storage and
 * planned (tags first, then manifests), kept manifests mark their blobs in the space ledger, and
 * what can be deleted becomes work for the executor. Also --max-delete's refusal of a whole plan.
 */
import type { Run } from "./cleanup.js";
import { CandidateBlobs } from "./core/candidate-blobs.js";
import type { Digest } from "./core/digest.js";
import { SafetyRefusal } from "./core/errors.js";
import { planRepository } from "./core/plan.js";
import { checkMaxDelete, effectiveMaxDelete, repositoryIncluded, type RunPolicy } from "./core/policy.js";
import type { RepositoryName } from "./core/repository-name.js";
import type { DeletedTag, ProtectedPattern, RetentionRules } from "./core/retention.js";
import { blobKey, markedBlobs, type SpaceLedger } from "./core/space.js";
import type { RepositoryPlan, RepositorySnapshot, StorageWarning } from "./core/types.js";
import { CandidateList } from "./execute/candidate-list.js";
import type { RepositoryWork } from "./execute/execute-repository.js";
import { InOrder, numbered } from "./execute/in-order.js";
import { forEachBounded } from "./execute/pool.js";
import { repositoryStamp } from "./execute/recheck.js";

/**
 * Scans and plans every included repository, and hands each one with something to delete to
 * `sink` in the listing's order (by name), as soon as it and every repository before it are
 * planned: a dry run prints them while the scan goes on, a real run collects them.
 */
export async function scanAndPlan(run: Run, sink: (item: RepositoryWork) => void, signal: AbortSignal = run.signal): Promise<void> {
  const { deps, options } = run;
  // Scanning in parallel finishes repositories out of order; what is handed on should not be.
  const order = new InOrder(sink);
  // A directory left unread (permission denied) holds repositories or revisions not cleaned: exit 1.
  const warn = (warning: StorageWarning): void => {
    if (warning.unread) run.report.unreadDirectories = (run.report.unreadDirectories ?? 0) + 1;
    run.warn(warning);
  };
  const listed = numbered(deps.storage.listRepositories(warn));
  await forEachBounded(listed, options.scanConcurrency ?? deps.storage.repositoriesAtOnce ?? 8, async ([index, name]) => {
    let item: RepositoryWork | undefined;
    try {
      item = await scanRepository(run, name, warn);
    } finally {
      order.finish(index, item);
    }
  }, signal);
}

/** Reads and plans one repository; returns it as work when the plan deletes something there. */
async function scanRepository(run: Run, name: RepositoryName, warn: (warning: StorageWarning) => void): Promise<RepositoryWork | undefined> {
  const { deps, report, events } = run;
  if (!repositoryIncluded(run.policy, name)) {
    await keepOutside(run, name);
    return undefined;
  }
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
  plan.warnings.forEach(warn);
  const isWork = plan.candidates.length > 0 || tagDeletions.length > 0;
  // Work may be refused (an orphan): its marks then carry its name, to measure what it holds alone.
  keepInLedger(run.ledger, snapshot, plan, isWork ? name : undefined);
  events.planned?.(plan);
  events.scanProgress?.({ repositories: report.repositories, manifests: report.manifests });
  if (!isWork) return undefined;
  run.tagsAhead?.add(name);
  run.blobs.set(name, CandidateBlobs.from(plan.candidates.map((candidate) => candidate.blobs)));
  const candidates = CandidateList.from(plan.candidates);
  const stamp = reusable(snapshot, scannedAt) ? repositoryStamp(snapshot.revisions, snapshot.tags) : undefined;
  return {
    name, tags: [...plan.tags.keys()], candidates, bytes: repositoryBytes(snapshot), scannedAt,
    manifests: snapshot.revisions.length, lastPushAt: lastPush(snapshot),
    ...(stamp ? { stamp } : {}), ...(tagDeletions.length > 0 ? { tagDeletions } : {}),
  };
}

/**
 * A repository the filters leave out is still read, to mark what its manifests use: garbage
 * collection keeps it, so the space estimate must not count it as freed or as unreferenced.
 */
async function keepOutside(run: Run, name: RepositoryName): Promise<void> {
  const snapshot = await run.deps.storage.readRepository(name);
  for (const revision of snapshot.revisions) run.ledger.keep(markedBlobs(revision).map(blobKey));
}

/** The run's policy with a map of the projects' own rules, filled as repositories are scanned. */
export function withProjectRules(policy: RunPolicy): RunPolicy {
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
export function refuseOverMaxDelete(run: Run): void {
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
function keepInLedger(ledger: SpaceLedger, snapshot: RepositorySnapshot, plan: RepositoryPlan, name?: RepositoryName): void {
  const candidates = new Set<Digest>(plan.candidates.map((candidate) => candidate.digest));
  for (const revision of snapshot.revisions) {
    if (!candidates.has(revision.digest)) ledger.keep(markedBlobs(revision).map(blobKey), name);
  }
}

/** When something was last pushed there: the newest revision link or tag link (0 for none). */
function lastPush(snapshot: RepositorySnapshot): number {
  let newest = 0;
  for (const revision of snapshot.revisions) newest = Math.max(newest, revision.linkedAt);
  for (const pushedAt of snapshot.tagPushedAt?.values() ?? []) newest = Math.max(newest, pushedAt);
  return newest;
}

/**
 * Distinct blobs the repository's manifests reference, by their declared sizes. Keyed by blob
 * key, not digest: hashing each fresh 71-character digest string made this 2.3 % of the main
 * thread in the dry run of M; two blobs sharing a key (1 in ~2,000 among 2 million) would only
 * drop one size from a figure for people.
 */
function repositoryBytes(snapshot: RepositorySnapshot): number {
  const sizes = new Map<number, number>();
  for (const revision of snapshot.revisions) {
    sizes.set(blobKey(revision.digest), revision.manifestSize ?? 0);
    for (const blob of revision.manifest?.blobs ?? []) sizes.set(blobKey(blob.digest), blob.size);
  }
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

