/**
 * Telling, between batches of deletes, that a repository has not changed since it was last read,
 * on a storage that can watch (a filesystem). It watches every folder whose change the re-check
 * before a batch looks for (`refresh` in execute/recheck.ts):
 * - the revision folders, where a manifest pushed for the first time appears;
 * - the tags folder, where a tag appears or goes (`_manifests` while there is none);
 * - each tag's `current/`, whose link a push of the tag rewrites.
 *
 * The registry's DELETE of an untagged manifest removes only `revisions/<alg>/<hex>/link`, one
 * level below what is watched here, so a run's own deletes leave the watch quiet. Reading a file
 * is no event either.
 */
import type { StorageDriver, StorageWatch } from "./driver.js";
import { REPOSITORIES_PREFIX, revisionsPrefix, tagsPrefix } from "./layout.js";

/**
 * More tags than this are not watched one by one: the repository is read before every batch, as
 * without a watch. It bounds what the watches of the repositories in flight take of the system's
 * limit (fs.inotify.max_user_watches, 8,192 on older kernels), which the push watch
 * (push-watch.ts) needs for the revision links of each batch.
 */
export const MAX_WATCHED_TAGS = 256;

/** The watch of one repository's tags and revision folders. */
export interface ChangeWatch {
  /** Taken right before a read of the repository: what `quietSince` compares with. */
  mark(): number;
  /** True only when every folder is watched and none of them changed since `mark` was taken. */
  quietSince(mark: number): boolean;
  /**
   * Watches the `current/` of these tags (what a read found) and stops watching the others.
   * Returns true when a tag was not watched before: a read made before this call may have
   * missed a change to it, so its mark proves nothing.
   */
  watchTags(tags: Iterable<string>): boolean;
  close(): void;
}

/**
 * Starts watching repository `name` and its `tags`; undefined when the driver cannot watch, or
 * cannot see other hosts' writes, or for too many tags.
 */
export function watchChanges(driver: StorageDriver, name: string, tags: Iterable<string>): ChangeWatch | undefined {
  const list = [...tags];
  // On NFS and the like, other hosts' pushes would go unseen: there the repository is read before every batch.
  if (!driver.watch || !driver.listNow || driver.watchSeesEveryWrite !== true || list.length > MAX_WATCHED_TAGS) return undefined;
  return new DriverChangeWatch(driver, name, list);
}

class DriverChangeWatch implements ChangeWatch {
  private changes = 0;
  /** A folder that could not be watched: never quiet. */
  private blind = false;
  private tagsWatched = false;
  private readonly folders: StorageWatch[] = [];
  private readonly tags = new Map<string, StorageWatch>();
  /** Tags whose `current/` could not be watched (yet): never quiet while there is one. */
  private readonly unwatched = new Set<string>();
  private readonly onChange = (): void => {
    this.changes++;
  };

  constructor(private readonly driver: StorageDriver, private readonly name: string, tags: Iterable<string>) {
    const revisions = revisionsPrefix(name);
    // The parent first: an algorithm folder created after the listing is an event there.
    this.watchFolder(revisions);
    for (const algorithm of driver.listNow!(revisions) ?? []) this.watchFolder(`${revisions}${algorithm}/`);
    // No tag yet: the tags folder appears in `_manifests` with the first (and is watched once a read found it).
    if (!this.watchTagsFolder()) this.watchFolder(`${REPOSITORIES_PREFIX}${name}/_manifests/`);
    this.watchTags(tags);
  }

  mark(): number {
    return this.changes;
  }

  quietSince(mark: number): boolean {
    return !this.blind && this.unwatched.size === 0 && this.changes === mark;
  }

  watchTags(tags: Iterable<string>): boolean {
    const wanted = new Set(tags);
    if (wanted.size > MAX_WATCHED_TAGS) {
      this.close();
      this.blind = true;
      return true;
    }
    for (const [tag, watch] of this.tags) {
      if (wanted.has(tag)) continue;
      watch.close();
      this.tags.delete(tag);
    }
    for (const tag of this.unwatched) if (!wanted.has(tag)) this.unwatched.delete(tag);
    let added = !this.tagsWatched && this.watchTagsFolder();
    for (const tag of wanted) {
      if (this.tags.has(tag)) continue;
      added = true;
      const { watch } = this.add(`${tagsPrefix(this.name)}${tag}/current/`);
      if (watch) {
        this.tags.set(tag, watch);
        this.unwatched.delete(tag);
      } else this.unwatched.add(tag);
    }
    return added;
  }

  close(): void {
    for (const watch of this.folders.splice(0)) watch.close();
    for (const watch of this.tags.values()) watch.close();
    this.tags.clear();
  }

  /** Watches the tags folder; false while it does not exist. */
  private watchTagsFolder(): boolean {
    const { watch, missing } = this.add(tagsPrefix(this.name));
    if (watch) this.folders.push(watch);
    else if (!missing) this.blind = true;
    this.tagsWatched = watch !== undefined;
    return this.tagsWatched;
  }

  /** Watches a folder; one that cannot be watched makes the watch blind. */
  private watchFolder(prefix: string): void {
    const { watch } = this.add(prefix);
    if (watch) this.folders.push(watch);
    else this.blind = true;
  }

  /** The watch of a folder, or whether it failed because the folder does not exist (else the system's limit, say). */
  private add(prefix: string): { watch?: StorageWatch; missing?: boolean } {
    try {
      return { watch: this.driver.watch!(prefix, this.onChange) };
    } catch (error) {
      return { missing: (error as NodeJS.ErrnoException).code === "ENOENT" };
    }
  }
}
