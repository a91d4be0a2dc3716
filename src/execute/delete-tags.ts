/**
 * Deleting the tags retention planned in one repository, before its manifests: re-check each on
 * the storage, journal it (the manifest's bytes, for restore), then delete it through the
 * registry's tag delete (registry/ports.ts TagDeleter), which reads each tag once more right
 * before it changes it and leaves a tag pushed again since alone.
 */
import type { Digest } from "../core/digest.js";
import { parseManifest } from "../core/manifest.js";
import type { RepairOutcome, TagOutcome } from "../core/report.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { DeletedTag } from "../core/retention.js";
import type { TagDeleteOutcome, TagDeleter } from "../registry/ports.js";
import type { PushSighting } from "../storage/push-watch.js";
import type { StorageReader } from "../storage/storage-reader.js";
import type { ManifestWriter } from "./repair.js";
import type { JournalWriter } from "./journal.js";

/** What deleting tags needs from the run. */
export interface TagDeleteContext {
  storage: StorageReader;
  tagDeleter: TagDeleter;
  journal?: JournalWriter;
  runId: string;
  now: () => number;
  emitTag: (outcome: TagOutcome) => void;
  /** With both: a tag pushed again while it was being deleted is put back (repair.ts). */
  emitRepair?: (outcome: RepairOutcome) => void;
  writer?: ManifestWriter;
}

/**
 * Deletes `planned` in `name`: a tag that moved or went since the scan is reported and left alone.
 * Throws DeletesDisabledError (the run stops); every other failure is a tag outcome.
 */
export async function deleteTags(name: RepositoryName, planned: readonly DeletedTag[], ctx: TagDeleteContext): Promise<void> {
  const now = await ctx.storage.readTags(name);
  const still: DeletedTag[] = [];
  for (const tag of planned) {
    const current = now.tags.get(tag.tag);
    if (current === tag.digest) still.push(tag);
    else if (current === undefined) ctx.emitTag(outcomeOf(name, tag, { kind: "already-gone" }));
    else ctx.emitTag(outcomeOf(name, tag, { kind: "changed", digest: current }));
  }
  const journaled: DeletedTag[] = [];
  for (const tag of still) {
    const problem = await journalTag(name, tag, ctx);
    if (problem === undefined) journaled.push(tag);
    else ctx.emitTag(outcomeOf(name, tag, { kind: "failed", message: `${problem}, so it could not be journaled for restore: left alone` }));
  }
  if (journaled.length === 0) return;
  // The registry's read of a tag and its delete are two requests: a push of the tag in between is
  // removed with it. Watched, where the storage can tell, and put back.
  const watch = ctx.emitRepair && ctx.writer ? ctx.storage.watchRepository?.(name, ctx.now) : undefined;
  watch?.watchTagLinks(journaled.map((tag) => tag.tag));
  try {
    const outcomes = await ctx.tagDeleter.deleteTags(name, new Map<string, Digest>(journaled.map((tag) => [tag.tag, tag.digest])));
    for (const tag of journaled) {
      ctx.emitTag(outcomeOf(name, tag, outcomes.get(tag.tag) ?? { kind: "failed", message: "the registry client gave no outcome" }));
    }
    if (watch) await putBackPushedTags(name, journaled, watch.sightings, ctx);
  } finally {
    watch?.close();
  }
}

/**
 * Tags someone pushed again while they were being deleted, and which are gone now: each is put
 * back onto the last manifest pushed under it that is still linked (GitLab's dummy manifest, which
 * the deletion wrote there too, is not: its DELETE took its link).
 */
async function putBackPushedTags(
  name: RepositoryName, deleted: readonly DeletedTag[], sightings: readonly PushSighting[], ctx: TagDeleteContext,
): Promise<void> {
  const written = new Map<string, Digest[]>();
  for (const sighting of sightings) {
    if (sighting.kind !== "tag-written" || sighting.digest === undefined) continue;
    const planned = deleted.find((tag) => tag.tag === sighting.tag);
    if (!planned || sighting.digest === planned.digest) continue;
    written.set(sighting.tag, [...(written.get(sighting.tag) ?? []), sighting.digest]);
  }
  if (written.size === 0) return;
  const now = await ctx.storage.readTags(name);
  for (const [tag, digests] of written) {
    if (now.tags.has(tag)) continue;
    for (const digest of [...digests].reverse()) {
      if (!(await ctx.storage.hasRevision(name, digest).catch(() => false))) continue;
      await putTagBack(name, tag, digest, ctx);
      break;
    }
  }
}

async function putTagBack(name: RepositoryName, tag: string, digest: Digest, ctx: TagDeleteContext): Promise<void> {
  const base = { repository: name, digest, tags: [tag], reason: `tag ${tag} was pushed again while retention deleted it` };
  try {
    const bytes = await ctx.storage.readBlob(digest);
    const parsed = parseManifest(bytes);
    if (!parsed.ok) throw new Error(`its manifest is not a manifest (${parsed.problem})`);
    const current = await ctx.writer!.tagDigest(name, tag);
    if (current !== undefined) return; // pushed once more since: where CI put it
    await ctx.writer!.putTag(name, tag, digest, { bytes, mediaType: parsed.manifest.mediaType });
    ctx.emitRepair!({ ...base, kind: "restored" });
  } catch (error) {
    ctx.emitRepair!({ ...base, kind: "failed", detail: error instanceof Error ? error.message : String(error) });
  }
}

/** The outcome line of one tag, with the rules it breaks as the detail of a deletion. */
export function outcomeOf(name: RepositoryName, tag: DeletedTag, outcome: TagDeleteOutcome | { kind: "would-delete" }): TagOutcome {
  const base = { repository: name, tag: tag.tag, digest: tag.digest, pushedAt: tag.pushedAt };
  switch (outcome.kind) {
    case "deleted":
    case "would-delete":
      return { ...base, kind: outcome.kind, detail: tag.reason };
    case "already-gone":
      return { ...base, kind: "already-gone", detail: "deleted since the scan" };
    case "changed":
      return { ...base, kind: "kept-on-recheck", detail: `pushed again since the scan: it points at ${outcome.digest} now` };
    case "protected":
      return { ...base, kind: "protected", detail: outcome.message };
    case "failed":
      return { ...base, kind: "failed", detail: outcome.message };
  }
}

/**
 * Appends the tag and its manifest's exact bytes and media type (restore sends them back with a
 * PUT by tag) to the journal, flushed, before it is deleted. Returns why it could not, if so:
 * a tag whose manifest cannot be read could not be put back, so it is not deleted.
 */
async function journalTag(name: RepositoryName, tag: DeletedTag, ctx: TagDeleteContext): Promise<string | undefined> {
  if (!ctx.journal) return undefined;
  let bytes: Buffer;
  try {
    bytes = await ctx.storage.readBlob(tag.digest);
  } catch (error) {
    return `its manifest could not be read (${error instanceof Error ? error.message : String(error)})`;
  }
  const parsed = parseManifest(bytes);
  if (!parsed.ok) return `its manifest ${tag.digest} is not a manifest (${parsed.problem})`;
  await ctx.journal.append({
    runId: ctx.runId, time: new Date(ctx.now()).toISOString(), repository: name, digest: tag.digest,
    mediaType: parsed.manifest.mediaType, manifest: bytes.toString("base64"), tag: tag.tag,
  });
  return undefined;
}
