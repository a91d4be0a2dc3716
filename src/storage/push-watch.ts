/**
 * Watching a repository for pushes while its deletes are in flight, on a storage that can tell
 * (a filesystem: see the driver's `watch`). The registry's DELETE of a manifest also removes
 * every tag on it, so a tag pushed onto a candidate inside that window vanishes without a trace
 * on disk; the watch is what still knows it was there, and on which manifest.
 *
 * A push of `tag` onto `digest` writes, in this order (distribution 2.8): the revision link of
 * `digest`, then `tags/<tag>/index/…/link`, then `tags/<tag>/current/link`. So the watch sees the
 * revision link written (for the candidates it was asked to watch) and the tag folder appear,
 * and reads the tag's link at once, before a DELETE in flight can take it.
 */
import type { Digest } from "../core/digest.js";
import { digestAlgorithm, digestHex, parseDigest } from "../core/digest.js";
import type { StorageDriver, StorageWatch } from "./driver.js";
import { REPOSITORIES_PREFIX, revisionsPrefix, tagCurrentLinkKey, tagsPrefix } from "./layout.js";

/** Waits before each further look at a tag that appeared unreadable (ms): the push writes its link within a few. */
const TAG_READ_WAITS_MS = [1, 4, 16, 50];

/** Something the watch saw, numbered in the order it happened. */
export type PushSighting =
  /** A tag folder appeared or vanished; `digest` is what its link held when it was read, if it could be. */
  | { kind: "tag"; seq: number; at: number; tag: string; digest?: Digest }
  /** The revision link of a watched manifest was written: someone pushed it. */
  | { kind: "revision-written"; seq: number; at: number; digest: Digest }
  /** The revision link of a watched manifest appeared or went (a DELETE removes it just before it untags). */
  | { kind: "revision-renamed"; seq: number; at: number; digest: Digest }
  /** The `current/link` of a watched tag was written; `digest` is what it held then, if it could be read. */
  | { kind: "tag-written"; seq: number; at: number; tag: string; digest?: Digest };

/** The watch of one repository. */
export interface RepositoryWatch {
  /** Also watch the revision links of these manifests (before their DELETEs are sent). */
  watchRevisions(digests: readonly Digest[]): void;
  /** Also watch these tags' `current/link` (while retention deletes them): who writes it is seen. */
  watchTagLinks(tags: readonly string[]): void;
  /** Stops watching these revision links, or all (their DELETEs returned); what was seen stays. Tags are still watched. */
  unwatchRevisions(digests?: readonly Digest[]): void;
  /** Everything seen so far, in order. */
  readonly sightings: readonly PushSighting[];
  /** Whether a `revision-written` of `digest` was seen: asked before each DELETE, so not a scan of the sightings. */
  written(digest: Digest): boolean;
  /** Why part of the repository could not be watched (the watch limit, say); undefined when all is watched. */
  readonly problem: string | undefined;
  /** Waits for the tag links read after sightings, until none is being read. */
  settled(): Promise<void>;
  close(): void;
}

/** Starts watching repository `name`; undefined when the driver cannot watch at all. */
export function watchRepository(driver: StorageDriver, name: string, now: () => number): RepositoryWatch | undefined {
  if (!driver.watch) return undefined;
  return new DriverRepositoryWatch(driver, name, now);
}

class DriverRepositoryWatch implements RepositoryWatch {
  readonly sightings: PushSighting[] = [];
  problem: string | undefined;
  private readonly watches: StorageWatch[] = [];
  /** Revision folders watched now, one watch each: a batch's worth, so the system's limit is never near. */
  private readonly revisions = new Map<Digest, StorageWatch>();
  private readonly reads = new Set<Promise<void>>();
  private readonly rewritten = new Set<Digest>();
  private tagsWatched = false;
  private closed = false;

  constructor(
    private readonly driver: StorageDriver,
    private readonly name: string,
    private readonly now: () => number,
  ) {
    this.watchTags();
  }

  watchRevisions(digests: readonly Digest[]): void {
    for (const digest of digests) {
      if (this.closed || this.revisions.has(digest)) continue;
      const folder = `${revisionsPrefix(this.name)}${digestAlgorithm(digest)}/${digestHex(digest)}/`;
      const watch = this.add(folder, (entry, change) => {
        if (entry === "link") this.record({ kind: change === "written" ? "revision-written" : "revision-renamed", seq: 0, at: 0, digest });
      });
      if (watch) this.revisions.set(digest, watch);
    }
  }

  watchTagLinks(tags: readonly string[]): void {
    for (const tag of tags) {
      const key = tagCurrentLinkKey(this.name, tag);
      const watch = this.add(`${tagsPrefix(this.name)}${tag}/current/`, (entry) => {
        if (entry !== "link") return;
        const bytes = this.driver.readNow?.(key, 256);
        const digest = bytes && bytes.length > 0 ? parseDigest(bytes.toString("latin1")) : undefined;
        this.record(digest === undefined ? { kind: "tag-written", seq: 0, at: 0, tag } : { kind: "tag-written", seq: 0, at: 0, tag, digest });
      });
      if (watch) this.watches.push(watch);
    }
  }

  unwatchRevisions(digests?: readonly Digest[]): void {
    for (const digest of digests ?? [...this.revisions.keys()]) {
      this.revisions.get(digest)?.close();
      this.revisions.delete(digest);
    }
  }

  async settled(): Promise<void> {
    // Reads started while waiting are waited for too: the caller takes the sightings right after.
    while (this.reads.size > 0) await Promise.all(this.reads);
  }

  close(): void {
    this.closed = true;
    this.unwatchRevisions();
    for (const watch of this.watches.splice(0)) watch.close();
  }

  /** Watches `_manifests/tags`, or `_manifests` until a first tag creates it. */
  private watchTags(): void {
    if (this.tagsWatched || this.closed) return;
    const tags = this.add(tagsPrefix(this.name), (tag, change) => change === "renamed" && this.sawTag(tag));
    if (tags) {
      this.watches.push(tags);
      this.tagsWatched = true;
      return;
    }
    const manifests = `${REPOSITORIES_PREFIX}${this.name}/_manifests/`;
    const parent = this.add(manifests, (entry) => {
      if (entry !== "tags" || this.tagsWatched) return;
      this.watchTags();
      // Tags created before the watch caught up: each is a tag that appeared.
      void this.driver.list(tagsPrefix(this.name)).then((listing) => {
        for (const tag of listing.prefixes) this.sawTag(tag.replace(/\/$/, ""));
      }, () => {});
    });
    if (parent) this.watches.push(parent);
  }

  private sawTag(tag: string): void {
    const sighting: Extract<PushSighting, { kind: "tag" }> = { kind: "tag", seq: 0, at: 0, tag };
    this.record(sighting);
    // At once, where the storage allows: the DELETE in flight may take the tag within a millisecond,
    // and an asynchronous read can wait behind a whole repository's.
    const now = this.readTagNow(tag);
    if (now !== undefined) return void (sighting.digest = now);
    if (!this.driver.readNow) return;
    const read = this.readTag(tag, sighting);
    this.reads.add(read);
    void read.finally(() => this.reads.delete(read));
  }

  /** The tag's digest read synchronously: its current link, else a new tag's only history entry. */
  private readTagNow(tag: string): Digest | undefined {
    const current = this.driver.readNow?.(tagCurrentLinkKey(this.name, tag), 256);
    const digest = current && current.length > 0 ? parseDigest(current.toString("latin1")) : undefined;
    if (digest !== undefined) return digest;
    const history = this.driver.listNow?.(`${tagsPrefix(this.name)}${tag}/index/sha256/`);
    return history?.length === 1 && current === undefined ? parseDigest(`sha256:${history[0]}`) : undefined;
  }

  /**
   * The tag folder appears with its history link, a moment before `current/link` is written: a
   * few more looks over some milliseconds, until it can be read or is gone (a DELETE took the tag).
   */
  private async readTag(tag: string, sighting: Extract<PushSighting, { kind: "tag" }>): Promise<void> {
    for (const wait of TAG_READ_WAITS_MS) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      const digest = this.readTagNow(tag);
      if (digest !== undefined) return void (sighting.digest = digest);
    }
  }

  written(digest: Digest): boolean {
    return this.rewritten.has(digest);
  }

  private record(sighting: PushSighting): void {
    if (sighting.kind === "revision-written") this.rewritten.add(sighting.digest);
    sighting.seq = this.sightings.length + 1;
    sighting.at = this.now();
    this.sightings.push(sighting);
  }

  /** The watch of the folder, or undefined; a folder that does not exist (yet) is not a problem. */
  private add(prefix: string, onChange: (name: string, change: "written" | "renamed") => void): StorageWatch | undefined {
    try {
      return this.driver.watch!(prefix, onChange);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // No tags folder yet (watched from `_manifests` instead), or a revision folder removed meanwhile.
      if (code === "ENOENT") return undefined;
      this.problem ??= code === "ENOSPC"
        ? "the system's limit on watched folders is reached (raise fs.inotify.max_user_watches)"
        : `${this.driver.describe(prefix)} cannot be watched (${code ?? String(error)})`;
      return undefined;
    }
  }
}
