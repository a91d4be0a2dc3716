/**
 * Undoing what a push during the deletes made wrong. The registry gives no conditional delete:
 * a tag pushed onto a candidate between the re-check and its DELETE is removed with it, and an
 * index pushed in that window may list a child just deleted. So each repository is watched while
 * its deletes are in flight (where the storage can tell), looked at again after them, and every
 * deleted manifest something pushed needs is put back, by tag or by digest, from its blob (still
 * in the blob store until garbage collection) before the run ends.
 */
import type { Digest } from "../core/digest.js";
import { parseManifest } from "../core/manifest.js";
import type { RunPolicy } from "../core/policy.js";
import { describeRepair, planRepairs, type DeletedManifest, type Repair } from "../core/repairs.js";
import type { RepairOutcome } from "../core/report.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { FetchedManifest } from "../registry/ports.js";
import type { PushSighting, RepositoryWatch } from "../storage/push-watch.js";
import type { StorageReader } from "../storage/storage-reader.js";
import type { StorageWarning } from "../core/types.js";
import type { Semaphore } from "./pool.js";
import { vanishedTags } from "./vanished-tags.js";

/** How the repairs reach the registry: with `pull,push` tokens, asked for only when one is needed. */
export interface ManifestWriter {
  putManifest(name: RepositoryName, digest: Digest, manifest: FetchedManifest): Promise<void>;
  putTag(name: RepositoryName, tag: string, digest: Digest, manifest: FetchedManifest): Promise<void>;
  /** The digest `tag` points at now, or undefined when the registry has no such tag. */
  tagDigest(name: RepositoryName, tag: string): Promise<Digest | undefined>;
}

export interface RepairContext {
  storage: StorageReader;
  now: () => number;
  policy: RunPolicy;
  /** Without it nothing can be put back: a repair needed is reported as failed. */
  writer?: ManifestWriter;
  slots: Semaphore;
  emitRepair: (outcome: RepairOutcome) => void;
  /** Told once per repository when part of it cannot be watched (the system's limit on watches). */
  warn?: (warning: StorageWarning) => void;
}

/**
 * A push in flight when the last DELETE returned finishes within milliseconds; this long after a
 * repository's last DELETE the storage is looked at once more (and again while the watch sees more).
 */
export const SETTLE_MS = 400;
/** Looks after the last DELETE, at most, while pushes keep touching the repository. */
const MAX_LOOKS = 8;

/** The repairs of one repository, from its first DELETE to a while after its last. */
export class RepositoryRepair {
  private readonly watch: RepositoryWatch | undefined;
  private readonly deleted = new Set<Digest>();
  private readonly parsed = new Map<Digest, DeletedManifest>();
  private readonly restored = new Set<Digest>();
  /** Sightings up to this number were looked at. */
  private seen = 0;
  /** Sightings up to this number were found to concern nothing deleted. */
  private checked = 0;
  /** Tags whose target could not be told, reported once each. */
  private readonly unresolved = new Set<string>();

  constructor(
    readonly name: RepositoryName,
    /** When the scan started reading the repository: what was linked since counts as pushed during the run. */
    private readonly since: number,
    /** The tags on disk when its deletes began. */
    private readonly tagsAtStart: ReadonlySet<string>,
    private readonly ctx: RepairContext,
  ) {
    this.watch = ctx.storage.watchRepository?.(name, ctx.now);
  }

  /** Called before a batch's re-check: from now on a push onto one of these is seen. */
  watching(digests: readonly Digest[]): void {
    this.watch?.watchRevisions(digests);
  }

  /** True when someone wrote the revision link of `digest` since it was watched: pushed again, keep it. */
  pushedAgain(digest: Digest): boolean {
    return this.watch?.written(digest) === true;
  }

  /** The registry answered that `digest` is gone (deleted by this run). */
  deletedOne(digest: Digest): void {
    this.deleted.add(digest);
  }

  /** After a batch: when the watch saw a push that may concern what was deleted, look now. */
  async afterBatch(batch: readonly Digest[]): Promise<void> {
    this.warnOnce();
    if (this.deleted.size > 0 && this.relevantSightings()) {
      await delay(SETTLE_MS / 4);
      await this.look();
    }
    // Their DELETEs returned: a push onto one of them from now on links it again by itself.
    this.watch?.unwatchRevisions(batch);
  }

  private warned = false;

  /** A watch that misses part of the repository leaves the window open there: said once. */
  private warnOnce(): void {
    const problem = this.watch?.problem;
    if (problem === undefined || this.warned) return;
    this.warned = true;
    this.ctx.warn?.({
      path: this.name,
      message: `pushes during the cleanup cannot all be watched here (${problem}): a tag pushed onto a manifest ` +
        "in the instant before its DELETE may be lost; this repository is still looked at again after its deletes",
    });
  }

  /**
   * After the repository's last DELETE: waits for pushes in flight to land, then looks again, as
   * long as the watch keeps seeing pushes that may concern it (or once, where nothing watches).
   */
  async finish(): Promise<void> {
    try {
      if (this.deleted.size === 0) return;
      for (let look = 0; look < MAX_LOOKS; look++) {
        await delay(SETTLE_MS);
        const must = look === 0 ? this.watch === undefined || this.relevantSightings() || (await this.changedSinceScan())
          : this.relevantSightings();
        if (!must) return;
        await this.look();
      }
    } finally {
      this.watch?.close();
    }
  }

  /** Sightings not looked at yet that could concern a deleted manifest. */
  private relevantSightings(): boolean {
    const sightings = this.watch?.sightings ?? [];
    for (let i = Math.max(this.seen, this.checked); i < sightings.length; i++) {
      const sighting = sightings[i]!;
      // A link removed is this run's own DELETE: no push.
      if (sighting.kind === "revision-renamed") continue;
      if (sighting.kind === "revision-written") return true;
      if (sighting.digest === undefined || this.deleted.has(sighting.digest)) return true;
    }
    // Nothing there: the next batch starts after them (every DELETE adds a sighting of its own).
    this.checked = sightings.length;
    return false;
  }

  /** Where nothing watched: was anything linked or tagged since the scan? A stat of each link, no manifest read. */
  private async changedSinceScan(): Promise<boolean> {
    if (!this.ctx.storage.statRevisions) return true;
    const [revisions, tags] = await Promise.all([this.ctx.storage.statRevisions(this.name), this.ctx.storage.readTags(this.name)]);
    if (revisions.links.some((link) => link.linkedAt >= this.since - 1000 || this.deleted.has(link.digest))) return true;
    return tags.unreadableTags.length > 0 || [...tags.tags.values()].some((digest) => this.deleted.has(digest));
  }

  /** Reads the repository as it is now, and puts back whatever a push needs of what was deleted. */
  private async look(retries = 4): Promise<void> {
    await this.watch?.settled();
    // Only what was seen before the storage is read: a tag pushed after that read is in neither,
    // and must not be taken for one that vanished.
    const sightings = (this.watch?.sightings ?? []).slice();
    const upTo = sightings.length;
    const snapshot = await this.ctx.storage.readRepository(this.name);
    if (snapshot.unreadableTags.length > 0 && retries > 0) {
      // A tag caught mid-write: look again in a moment rather than judge without it. One that
      // stays unreadable (a corrupt link) makes the plan keep everything, which repairs nothing.
      await delay(SETTLE_MS / 4);
      return this.look(retries - 1);
    }
    const deleted = await this.deletedManifests(sightings);
    const vanished = vanishedTags(sightings, snapshot.tags, this.deleted, this.tagsAtStart);
    for (const tag of vanished.unknown) this.reportUnresolved(tag);
    const repairs = planRepairs({
      snapshot, deleted, vanishedTags: vanished.tags, now: this.ctx.now(), policy: this.ctx.policy, since: this.since,
    });
    for (const repair of repairs) await this.apply(repair);
    this.seen = upTo;
  }

  /** The deleted manifests not restored yet, parsed from their blobs (read once each). */
  private async deletedManifests(sightings: readonly PushSighting[]): Promise<DeletedManifest[]> {
    const result: DeletedManifest[] = [];
    const pushedAt = new Map<Digest, number>();
    for (const s of sightings) if (s.kind === "revision-written" && !pushedAt.has(s.digest)) pushedAt.set(s.digest, s.at);
    for (const digest of this.deleted) {
      if (this.restored.has(digest)) continue;
      let entry = this.parsed.get(digest);
      if (!entry) {
        const parsed = parseManifest(await this.ctx.storage.readBlob(digest));
        if (!parsed.ok) continue; // only readable manifests are ever deleted; a blob gone since is nothing to restore
        entry = { digest, manifest: parsed.manifest };
        this.parsed.set(digest, entry);
      }
      const at = pushedAt.get(digest);
      result.push(at === undefined ? entry : { ...entry, pushedAgainAt: at });
    }
    return result;
  }

  private async apply(repair: Repair): Promise<void> {
    const reason = describeRepair(repair.reason);
    const base = { repository: this.name, digest: repair.digest, tags: repair.tags, reason };
    if (!this.ctx.writer) {
      this.ctx.emitRepair({ ...base, kind: "failed", detail: "this run has no way to upload manifests" });
      return;
    }
    try {
      const manifest = { bytes: await this.ctx.storage.readBlob(repair.digest), mediaType: this.parsed.get(repair.digest)!.manifest.mediaType };
      const writer = this.ctx.writer;
      const movedTags: string[] = [];
      const done = await this.ctx.slots.use(async () => {
        if (repair.tags.length === 0) {
          await writer.putManifest(this.name, repair.digest, manifest);
          return true;
        }
        for (const tag of repair.tags) {
          // Never move a tag pushed again elsewhere since it was seen here.
          const now = await writer.tagDigest(this.name, tag);
          if (now !== undefined && now !== repair.digest) movedTags.push(tag);
          else await writer.putTag(this.name, tag, repair.digest, manifest);
        }
        // Every tag is somewhere else by now: nothing needs this manifest any more.
        return movedTags.length < repair.tags.length;
      });
      if (!done) return;
      this.restored.add(repair.digest);
      const detail = movedTags.length > 0 ? `left tag ${movedTags.join(", ")} where it was pushed since` : undefined;
      this.ctx.emitRepair({ ...base, kind: "restored", ...(detail ? { detail } : {}) });
    } catch (error) {
      this.ctx.emitRepair({ ...base, kind: "failed", detail: error instanceof Error ? error.message : String(error) });
    }
  }

  private reportUnresolved(tag: string): void {
    if (this.unresolved.has(tag)) return;
    this.unresolved.add(tag);
    this.ctx.emitRepair({
      repository: this.name, tags: [tag], kind: "unresolved",
      reason: `tag ${tag} appeared or moved during the cleanup and is gone now, but what it pointed at could not be told`,
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
