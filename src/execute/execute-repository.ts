/**
 * Deleting the candidates of one repository: cross-check the live registry, re-plan from disk
 * right before deleting and whenever the repository changes under us, journal each manifest,
 * DELETE it, and report every outcome.
 */
import type { Digest } from "../core/digest.js";
import { planRepository } from "../core/plan.js";
import type { RunPolicy } from "../core/policy.js";
import type { ManifestOutcome, RepairOutcome, SkippedRepository, TagOutcome } from "../core/report.js";
import { describeTagKeepReason, type DeletedTag, type ProtectedPattern } from "../core/retention.js";
import type { RepositoryPlan, StorageWarning } from "../core/types.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { RegistryApi, TagDeleter } from "../registry/ports.js";
import { DeletesDisabledError, RegistryError } from "../registry/registry-error.js";
import type { StorageReader } from "../storage/storage-reader.js";
import type { CandidateList, WorkCandidate } from "./candidate-list.js";
import { FirstDeleteCheck, StorageMismatchError } from "./first-delete-check.js";
import { JournalWriteError, type JournalWriter } from "./journal.js";
import { forEachBounded, type Semaphore } from "./pool.js";
import { deleteTags, outcomeOf } from "./delete-tags.js";
import { crossCheck } from "./cross-check.js";
import type { TagListsAhead } from "./tags-ahead.js";
import { refresh, replan, resume, verdictOf, type Watch } from "./recheck.js";
import { type ManifestWriter, RepositoryRepair } from "./repair.js";

/** A repository the plan found candidates in, and the tags it saw. */
export interface RepositoryWork {
  name: RepositoryName;
  /** Its tags as scanned, by name: the dry run's cross-check (a real run reads them again). */
  tags: readonly string[];
  /** Candidates without their blob lists (the cleanup keeps those as keys, see core/space.ts), packed. */
  candidates: CandidateList;
  /** Bytes of the distinct blobs its manifests reference (declared sizes), for reports. */
  bytes: number;
  /** Manifests on disk and the newest revision or tag link (ms), for the report of a repository left alone. */
  manifests?: number;
  lastPushAt?: number;
  /**
   * When the scan started reading this repository (ms since the epoch). Manifests linked after it
   * count as pushed during the run: what they list or sign is kept whatever the grace period.
   * When absent, the start of executeRepository is used, which misses pushes made in between.
   */
  scannedAt?: number;
  /** The scan's repositoryStamp (recheck.ts): when the disk still matches it, the scan's plan is used. */
  stamp?: string;
  /** The tags retention deletes here, before the manifests (the candidates assume they are gone). */
  tagDeletions?: DeletedTag[];
}

export interface ExecuteContext {
  storage: StorageReader;
  registry: RegistryApi;
  journal?: JournalWriter;
  runId: string;
  dryRun: boolean;
  now: () => number;
  policy: RunPolicy;
  /** DELETEs in flight in one repository: each makes the registry read all its tags. */
  perRepository: number;
  /** Shared by all repositories: the run's total bound on DELETEs in flight (held for the request only). */
  slots: Semaphore;
  /** Shared by the run: the first DELETE is proven on disk before others are sent. */
  firstDelete: FirstDeleteCheck;
  signal: AbortSignal;
  emit: (outcome: ManifestOutcome) => void;
  emitTag: (outcome: TagOutcome) => void;
  /** Deletes tags by name; needed when the plan deletes tags. */
  tagDeleter?: TagDeleter;
  /** Patterns that protect tags of a repository from deletion (GitLab's rules, token patterns). */
  tagProtection?: (name: RepositoryName) => Promise<readonly ProtectedPattern[]>;
  /**
   * Repairs (repair.ts): with `emitRepair`, each repository is watched while its deletes are in
   * flight and what a push during them needs is put back through `writer`.
   */
  emitRepair?: (outcome: RepairOutcome) => void;
  writer?: ManifestWriter;
  /** Receives, once the repository's last DELETE returned, the promise of the repairs after it. */
  afterwards?: (done: Promise<void>) => void;
  /** Warnings found while deleting (a repository that cannot be watched for pushes). */
  warn?: (warning: StorageWarning) => void;
  /** A dry run's tag lists, asked for during the scan: its cross-checks take them from here. */
  tagsAhead?: TagListsAhead;
}

/**
 * Before every batch this size the tags are re-read and the revision directories re-listed (and
 * the repository re-planned if either changed); where the storage watches, only after the watch
 * saw one of them change. What remains is a window between that re-check
 * and each DELETE: measured with 3 repositories of 100 candidates on a loopback registry (2 cores,
 * 8 requests in flight, 4 per repository), a DELETE is answered 35-55 ms (median) and at worst
 * 110-200 ms after it; with batches of 16 it was 90-150 ms and 280-520 ms. Two re-check reads per
 * 8 DELETEs stay cheap next to the DELETEs, each of which makes the registry read every tag.
 */
const RECHECK_BATCH = 8;

/** Cross-checks again after a mismatch, the disk read anew each time: CI pushing during the run is no reason to skip. */
const CROSS_CHECK_RETRIES = 2;

/**
 * Processes one repository. Returns a SkippedRepository when the cross-check refuses it.
 * Throws DeletesDisabledError (the whole run must stop); every other failure is an outcome.
 */
export async function executeRepository(work: RepositoryWork, ctx: ExecuteContext): Promise<SkippedRepository | undefined> {
  // A dry run scanned moments ago and deletes nothing: it needs no re-plan.
  if (ctx.dryRun) return dryRun(work, ctx);
  const candidates = work.candidates.toArray();
  let watch = await resume(work.name, {
    since: work.scannedAt ?? ctx.now(), candidates: candidates.map((candidate) => candidate.digest),
    ...(work.stamp === undefined ? {} : { stamp: work.stamp }),
  }, ctx);
  let mismatch = await crossCheck(work.name, [...watch.tags.keys()], ctx);
  // A tag pushed between the disk's read and the registry's listing differs once: read both again.
  for (let retry = 0; mismatch?.reason === "tags-mismatch" && retry < CROSS_CHECK_RETRIES; retry++) {
    watch = await replan(work.name, watch.since, ctx);
    mismatch = await crossCheck(work.name, [...watch.tags.keys()], ctx);
  }
  if (mismatch) return { name: work.name, candidates: candidates.length, bytes: work.bytes, ...mismatch };
  if (work.tagDeletions && work.tagDeletions.length > 0) {
    const { tags } = await unprotectedTags(work, ctx);
    if (tags.length > 0) await deleteTags(work.name, tags, { ...ctx, tagDeleter: tagDeleterOf(ctx) });
    // What the deleted tags left untagged is judged from the storage as it is now.
    watch = await replan(work.name, watch.since, ctx);
  }
  const todo = stillCandidates(work.name, candidates, watch, ctx);
  const repair = todo.length > 0 ? repairOf(work.name, watch, ctx) : undefined;
  // Watched from before the first batch's read on: later batches read only after a change.
  const changes = todo.length > 0 ? ctx.storage.watchChanges?.(work.name, watch.tags.keys()) : undefined;
  const digests = (from: number): Digest[] => todo.slice(from, from + RECHECK_BATCH).map((candidate) => candidate.digest);
  try {
    repair?.watching(digests(0));
    for (let start = 0; start < todo.length && !ctx.signal.aborted; start += RECHECK_BATCH) {
      const next = todo.slice(start, start + RECHECK_BATCH);
      // A batch is watched from the start of the one before: a push onto one of its manifests is
      // seen even when the push wrote the link before this batch's re-check and the tag after it.
      repair?.watching(digests(start + RECHECK_BATCH));
      watch = await refresh(watch, ctx, changes);
      const batch = stillCandidates(work.name, next, watch, ctx);
      const manifests = readManifests(batch, ctx);
      await forEachBounded(batch, ctx.perRepository, (candidate) => deleteOne(work.name, candidate, ctx, repair, manifests.get(candidate.digest)), ctx.signal);
      await repair?.afterBatch(digests(start));
    }
  } finally {
    changes?.close();
    // Even when the run stops: what was deleted here is looked after before the run ends.
    if (repair) ctx.afterwards?.(repair.finish());
  }
  return undefined;
}

function repairOf(name: RepositoryName, watch: Watch, ctx: ExecuteContext): RepositoryRepair | undefined {
  const { emitRepair } = ctx;
  if (!emitRepair) return undefined;
  return new RepositoryRepair(name, watch.since, new Set(watch.tags.keys()), {
    storage: ctx.storage, now: ctx.now, policy: ctx.policy, slots: ctx.slots, emitRepair,
    ...(ctx.writer ? { writer: ctx.writer } : {}), ...(ctx.warn ? { warn: ctx.warn } : {}),
  });
}

async function dryRun(work: RepositoryWork, ctx: ExecuteContext): Promise<SkippedRepository | undefined> {
  // Tag lists asked for ahead are mostly in already: without a turn of the event loop between
  // repositories, every repository's lines would be made before any was written.
  await new Promise((resolve) => setImmediate(resolve));
  const mismatch = await crossCheck(work.name, work.tags, ctx, ctx.tagsAhead?.take(work.name));
  if (mismatch) return { name: work.name, candidates: work.candidates.length, bytes: work.bytes, ...mismatch };
  const { tags, replanned } = await unprotectedTags(work, ctx);
  for (const tag of tags) ctx.emitTag(outcomeOf(work.name, tag, { kind: "would-delete" }));
  const candidates = replanned ? replanned.candidates : work.candidates;
  for (const candidate of candidates) ctx.emit({ repository: work.name, digest: candidate.digest, kind: "would-delete" });
  return undefined;
}

/**
 * The planned tags minus those the repository's protection patterns keep (known only once GitLab
 * answered for it): with any pattern, the repository is planned again with them, so the manifests
 * a protected tag keeps tagged are not counted as deletable either. Protected tags are reported.
 */
async function unprotectedTags(work: RepositoryWork, ctx: ExecuteContext): Promise<{ tags: DeletedTag[]; replanned?: RepositoryPlan }> {
  const planned = work.tagDeletions ?? [];
  const patterns = planned.length > 0 ? ((await ctx.tagProtection?.(work.name)) ?? []) : [];
  if (patterns.length === 0) return { tags: planned };
  const snapshot = await ctx.storage.readRepository(work.name);
  const replanned = planRepository(snapshot, { now: ctx.now(), policy: ctx.policy, protectedTags: patterns });
  for (const kept of replanned.tagDecisions?.kept ?? []) {
    if (kept.reason.kind !== "protected" || !planned.some((tag) => tag.tag === kept.tag)) continue;
    ctx.emitTag({ repository: work.name, tag: kept.tag, digest: kept.digest, pushedAt: kept.pushedAt, kind: "protected", detail: describeTagKeepReason(kept.reason) });
  }
  return { tags: replanned.tagDecisions?.deleted ?? [], replanned };
}

function tagDeleterOf(ctx: ExecuteContext): TagDeleter {
  if (!ctx.tagDeleter) throw new Error("the plan deletes tags, but the run has no way to delete them");
  return ctx.tagDeleter;
}

/** The candidates the watch's plan still deletes; the others are reported with the reason. */
function stillCandidates(name: RepositoryName, candidates: WorkCandidate[], watch: Watch, ctx: ExecuteContext): WorkCandidate[] {
  return candidates.filter((candidate) => {
    const verdict = verdictOf(watch, candidate.digest);
    if (verdict) ctx.emit({ repository: name, digest: candidate.digest, ...verdict });
    return verdict === undefined;
  });
}

/**
 * The bytes the journal needs of a batch's manifests, read all at once: on a filesystem the reads
 * of one turn go to a worker thread in one message, instead of three thread-pool round trips
 * (open, read, close) for each. A failed read fails its own manifest when its turn comes.
 */
function readManifests(batch: readonly WorkCandidate[], ctx: ExecuteContext): Map<Digest, Promise<Buffer>> {
  const reads = new Map<Digest, Promise<Buffer>>();
  if (!ctx.journal) return reads;
  for (const { digest } of batch) {
    const read = ctx.storage.readBlob(digest);
    // Awaited in deleteOne; one never awaited (the run stopped) is no unhandled rejection.
    read.catch(() => undefined);
    reads.set(digest, read);
  }
  return reads;
}

async function deleteOne(
  name: RepositoryName, candidate: WorkCandidate, ctx: ExecuteContext, repair?: RepositoryRepair, manifest?: Promise<Buffer>,
): Promise<void> {
  if (ctx.signal.aborted) return;
  const base = { repository: name, digest: candidate.digest };
  if (repair?.pushedAgain(candidate.digest)) {
    ctx.emit({ ...base, kind: "kept-on-recheck", detail: "pushed again during the cleanup (its revision link was written)" });
    return;
  }
  try {
    // Journal and DELETE together inside the gate, so no record is written for a delete never sent.
    // A slot is held for the request only: waiting for the journal's fdatasync inside it kept the
    // registry below --concurrency requests in flight.
    const outcome = await ctx.firstDelete.run(name, candidate.digest, async () => {
      await journalOne(name, candidate, ctx, manifest);
      return ctx.slots.use(() => ctx.registry.deleteManifest(name, candidate.digest));
    });
    if (outcome.kind === "deleted") repair?.deletedOne(candidate.digest);
    if (outcome.kind === "protected") ctx.emit({ ...base, kind: "protected", detail: outcome.message });
    else ctx.emit({ ...base, kind: outcome.kind });
  } catch (error) {
    if (error instanceof DeletesDisabledError || error instanceof StorageMismatchError || error instanceof JournalWriteError) throw error;
    if (repair && (await pushedDuringDelete(name, candidate, error, ctx, repair))) {
      // Its DELETE may still have taken the tags the push put on it: the repair looks.
      repair.deletedOne(candidate.digest);
      ctx.emit({ ...base, kind: "kept-on-recheck", detail: `pushed again while its DELETE was in flight (the registry answered: ${messageOf(error)})` });
      return;
    }
    if (await goneDespiteError(name, candidate, error, ctx)) {
      repair?.deletedOne(candidate.digest);
      ctx.emit({ ...base, kind: "deleted" });
    } else ctx.emit({ ...base, kind: "failed", detail: messageOf(error) });
  }
}

/**
 * A push writing the revision link while the registry's DELETE reads it makes the DELETE fail
 * (400 DIGEST_INVALID for a link read half-written, or a 500): when the watch saw the link written,
 * or the 400 left the link in place, the manifest was pushed again and stays.
 */
async function pushedDuringDelete(
  name: RepositoryName, candidate: WorkCandidate, error: unknown, ctx: ExecuteContext, repair: RepositoryRepair,
): Promise<boolean> {
  if (!(error instanceof RegistryError) || error.status === undefined || (error.status !== 400 && error.status < 500)) return false;
  // The watch's event may come a moment after the answer.
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (repair.pushedAgain(candidate.digest)) return true;
  return error.status === 400 && error.code === "DIGEST_INVALID" && (await ctx.storage.hasRevision(name, candidate.digest).catch(() => false));
}

/**
 * The registry removes the revision link first and untags afterwards; when reading the tags fails
 * then (a tag caught mid-write by a concurrent push), it answers 500 for a manifest it did delete.
 * After a server error the disk tells whether the link is gone.
 */
async function goneDespiteError(name: RepositoryName, candidate: WorkCandidate, error: unknown, ctx: ExecuteContext): Promise<boolean> {
  if (!(error instanceof RegistryError) || error.status === undefined || error.status < 500) return false;
  return ctx.storage.hasRevision(name, candidate.digest).then((present) => !present, () => false);
}

/** Appends the manifest's exact bytes to the journal (flushed) before its DELETE is sent. */
async function journalOne(name: RepositoryName, candidate: WorkCandidate, ctx: ExecuteContext, manifest?: Promise<Buffer>): Promise<void> {
  if (!ctx.journal) return;
  const bytes = await (manifest ?? ctx.storage.readBlob(candidate.digest));
  await ctx.journal.append({
    runId: ctx.runId, time: new Date(ctx.now()).toISOString(), repository: name,
    digest: candidate.digest, mediaType: candidate.mediaType, manifest: bytes.toString("base64"),
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
