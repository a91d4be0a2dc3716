/**
 * Deleting the candidates of one repository: cross-check the live registry, re-plan from disk
 * right before deleting, journal each manifest, DELETE it, and report every outcome.
 */
import type { Digest } from "../core/digest.js";
import { planRepository } from "../core/plan.js";
import type { ManifestOutcome, SkippedRepository } from "../core/report.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { Candidate, PlanOptions } from "../core/types.js";
import type { RegistryApi } from "../registry/ports.js";
import { DeletesDisabledError } from "../registry/registry-error.js";
import type { StorageReader } from "../storage/storage-reader.js";
import type { JournalWriter } from "./journal.js";
import { forEachBounded, type Semaphore } from "./pool.js";

/** A repository the plan found candidates in, and the tags it saw. */
export interface RepositoryWork {
  name: RepositoryName;
  tags: Map<string, Digest>;
  candidates: Candidate[];
  /** Bytes of the distinct blobs its manifests reference (declared sizes), for reports. */
  bytes: number;
}

export interface ExecuteContext {
  storage: StorageReader;
  registry: RegistryApi;
  journal?: JournalWriter;
  runId: string;
  dryRun: boolean;
  now: () => number;
  minAgeMs: number;
  /** DELETEs in flight in one repository: each makes the registry read all its tags. */
  perRepository: number;
  /** Shared by all repositories: the run's total bound on requests in flight. */
  slots: Semaphore;
  signal: AbortSignal;
  emit: (outcome: ManifestOutcome) => void;
}

/** Tags are re-read from disk before every batch this size, to keep the race window short. */
const RECHECK_BATCH = 16;

/**
 * Processes one repository. Returns a SkippedRepository when the cross-check refuses it.
 * Throws DeletesDisabledError (the whole run must stop); every other failure is an outcome.
 */
export async function executeRepository(work: RepositoryWork, ctx: ExecuteContext): Promise<SkippedRepository | undefined> {
  // A dry run scanned moments ago; a real run re-plans because pushes may have happened since.
  const fresh = ctx.dryRun ? { tags: work.tags, verdict: new Map<Digest, Recheck>() } : await replan(work, ctx);
  const mismatch = await crossCheck(work.name, fresh.tags, ctx);
  if (mismatch) return { name: work.name, candidates: work.candidates.length, bytes: work.bytes, ...mismatch };
  const todo: Candidate[] = [];
  for (const candidate of work.candidates) {
    const recheck = fresh.verdict.get(candidate.digest);
    if (recheck === undefined) todo.push(candidate);
    else ctx.emit({ repository: work.name, digest: candidate.digest, ...recheck });
  }
  if (ctx.dryRun) {
    for (const candidate of todo) ctx.emit({ repository: work.name, digest: candidate.digest, kind: "would-delete" });
    return undefined;
  }
  for (let start = 0; start < todo.length && !ctx.signal.aborted; start += RECHECK_BATCH) {
    const batch = await dropNewlyTagged(work.name, todo.slice(start, start + RECHECK_BATCH), ctx);
    await forEachBounded(batch, ctx.perRepository, (candidate) => ctx.slots.use(() => deleteOne(work.name, candidate, ctx)), ctx.signal);
  }
  return undefined;
}

type Recheck = Pick<ManifestOutcome, "kind" | "detail">;

/** Re-reads the repository and plans again: only what is still a candidate may go. */
async function replan(work: RepositoryWork, ctx: ExecuteContext): Promise<{ tags: Map<string, Digest>; verdict: Map<Digest, Recheck> }> {
  const snapshot = await ctx.storage.readRepository(work.name);
  const plan = planRepository(snapshot, { now: ctx.now(), minAgeMs: ctx.minAgeMs } satisfies PlanOptions);
  const stillCandidate = new Set(plan.candidates.map((candidate) => candidate.digest));
  const keptNow = new Map(plan.kept.map((kept) => [kept.digest, kept.reason.kind] as const));
  const verdict = new Map<Digest, Recheck>();
  for (const { digest } of work.candidates) {
    if (stillCandidate.has(digest)) continue;
    const reason = keptNow.get(digest);
    verdict.set(digest, reason === undefined
      ? { kind: "already-gone", detail: "its revision link disappeared before the delete" }
      : { kind: "kept-on-recheck", detail: `kept on re-check: ${reason}` });
  }
  return { tags: snapshot.tags, verdict };
}

/**
 * The live registry must list exactly the tags the storage holds: otherwise -p is probably not
 * this registry's storage, and deleting what the disk calls untagged could remove live images.
 */
async function crossCheck(name: RepositoryName, diskTags: Map<string, Digest>, ctx: ExecuteContext): Promise<Pick<SkippedRepository, "reason" | "detail"> | undefined> {
  let live: string[];
  try {
    live = await ctx.registry.listTags(name);
  } catch (error) {
    if (error instanceof DeletesDisabledError) throw error;
    return { reason: "cross-check-failed", detail: `could not list its tags in the registry: ${messageOf(error)}` };
  }
  const liveSet = new Set(live);
  const missing = [...diskTags.keys()].filter((tag) => !liveSet.has(tag));
  const extra = live.filter((tag) => !diskTags.has(tag));
  if (missing.length === 0 && extra.length === 0) return undefined;
  const parts = [];
  if (missing.length > 0) parts.push(`on disk but not in the registry: ${sample(missing)}`);
  if (extra.length > 0) parts.push(`in the registry but not on disk: ${sample(extra)}`);
  return {
    reason: "tags-mismatch",
    detail: `the registry's tags differ from the storage (${parts.join("; ")}); is -p the storage of this registry?`,
  };
}

async function dropNewlyTagged(name: RepositoryName, batch: Candidate[], ctx: ExecuteContext): Promise<Candidate[]> {
  const { tags, unreadableTags } = await ctx.storage.readTags(name);
  const tagged = new Set(tags.values());
  return batch.filter((candidate) => {
    if (unreadableTags.length > 0) {
      ctx.emit({ repository: name, digest: candidate.digest, kind: "kept-on-recheck", detail: "a tag link became unreadable" });
      return false;
    }
    if (!tagged.has(candidate.digest)) return true;
    ctx.emit({ repository: name, digest: candidate.digest, kind: "kept-on-recheck", detail: "tagged since the scan" });
    return false;
  });
}

async function deleteOne(name: RepositoryName, candidate: Candidate, ctx: ExecuteContext): Promise<void> {
  if (ctx.signal.aborted) return;
  const base = { repository: name, digest: candidate.digest };
  try {
    if (ctx.journal) {
      const bytes = await ctx.storage.readBlob(candidate.digest);
      await ctx.journal.append({
        runId: ctx.runId, time: new Date(ctx.now()).toISOString(), repository: name,
        digest: candidate.digest, mediaType: candidate.mediaType, manifest: bytes.toString("base64"),
      });
    }
    const outcome = await ctx.registry.deleteManifest(name, candidate.digest);
    if (outcome.kind === "protected") ctx.emit({ ...base, kind: "protected", detail: outcome.message });
    else ctx.emit({ ...base, kind: outcome.kind });
  } catch (error) {
    if (error instanceof DeletesDisabledError) throw error;
    ctx.emit({ ...base, kind: "failed", detail: messageOf(error) });
  }
}

function sample(tags: string[]): string {
  const shown = tags.slice(0, 5).join(", ");
  return tags.length > 5 ? `${shown} and ${tags.length - 5} more` : shown;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
