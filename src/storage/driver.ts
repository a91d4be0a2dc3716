/**
 * The storage driver port: a small read-only key/value view of where the registry keeps its
 * storage, the way distribution's own storage drivers see it. Keys are `/`-separated and relative
 * to the storage root (`docker/registry/v2/blobs/...`); a "prefix" is a key ending in `/` (or ""
 * for the root). The distribution layout on top of it (layout.ts, registry-storage.ts) never knows
 * which backend it runs on; each backend (filesystem, s3; gcs and azure later) is one file or
 * folder that implements this and nothing more. Deliberately nothing here can write.
 */
import { CleanupError, ExitCode } from "../core/errors.js";

/** An object (a file) as a listing or a stat reports it. */
export interface StoredObject {
  /** The key, relative to the storage root. */
  key: string;
  size: number;
  /** Last write, in ms since the epoch (a file's mtime; S3's LastModified). */
  modifiedMs: number;
  /**
   * Set when a listing found the object but could not read its size and time (a file that
   * cannot be stat'ed): why, in words. `size` and `modifiedMs` are then 0. One such object must
   * not hide the others from a listing.
   */
  problem?: string;
}

/** What is directly below a prefix: its sub-prefixes (by name) and its objects. */
export interface Listing {
  /** Names of the sub-prefixes ("directories"), without the trailing `/`, sorted. */
  prefixes: string[];
  /** The objects directly below the prefix, sorted by key. */
  objects: StoredObject[];
  /**
   * Entries that are neither (a symbolic link on disk, which is never followed), by name with
   * what they are: the layout warns about them where it matters.
   */
  others: Array<{ name: string; what: string }>;
}

/** What {@link StorageDriver.get} returns: the bytes and when the object was written. */
export interface StoredContent {
  bytes: Buffer;
  /** When it was written: always given with `maxBytes`; without, only where it comes at no cost (S3). */
  modifiedMs?: number;
}

/**
 * Thrown by drivers for everything but a missing key (which is `undefined` or an empty listing):
 * `message` says what could not be read and why, in words for people, never a secret; `denied`
 * tells permission problems (run as root; the bucket policy) from the rest.
 */
export class StorageReadError extends Error {
  constructor(
    message: string,
    readonly denied: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StorageReadError";
  }
}

/**
 * The storage as a whole cannot be reached (an object store that stopped answering after the
 * retries, say): unlike a StorageReadError, which spoils one key, this ends the run (exit 1),
 * because every later read would fail too and nothing may be judged without reading.
 */
export class StorageUnavailableError extends CleanupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.deletionsFailed, options);
  }
}

/** Read-only access to one storage root. */
export interface StorageDriver {
  /** Where the storage is, for messages: a folder, or `s3://bucket/rootdirectory`. */
  readonly location: string;
  /** How a key is named in warnings and errors: its file path, or its `s3://` URL. */
  describe(key: string): string;
  /**
   * How many repositories a scan should read at once here, when the driver knows better than
   * the default of 8 (which keeps an object store's round trips overlapped).
   */
  readonly repositoriesAtOnce?: number;
  /**
   * How many reads one repository's scan (and the walk of the repositories' folders, as its
   * read-ahead) should have in flight here, when the driver knows better than the reader's
   * default of 32 (RegistryStorageOptions.concurrency).
   */
  readonly readsAtOnce?: number;
  /**
   * Whole-root checks before anything is read: the root exists and can be read, and it holds
   * `docker/registry/v2/repositories`. Throws a UsageError that says what to do.
   */
  checkRoot(): Promise<void>;
  /** The entries directly below `prefix`; an empty listing when it does not exist. */
  list(prefix: string): Promise<Listing>;
  /**
   * Every object below `prefix`, at any depth, in key order, with size and modification time,
   * streamed (the blob store of a large registry holds millions): on object storage this is the
   * cheap operation, a thousand keys a request. Nothing when the prefix does not exist.
   *
   * `shape`, when given, is what the layout knows of the keys below the prefix: their
   * `/`-separated parts, `*` for any one name (`["*", "*", "link"]` for revision links). Objects
   * of another shape may be left out; a filesystem uses it to stat `…/link` directly instead of
   * listing every folder that holds one.
   */
  listObjects(prefix: string, shape?: readonly string[]): AsyncIterable<StoredObject>;
  /**
   * The bytes of one object, or undefined when it does not exist. With `maxBytes`, an object
   * larger than that is not read: `tooLarge` then gives its size.
   */
  get(key: string, maxBytes?: number): Promise<StoredContent | { tooLarge: number } | undefined>;
  /** Size and modification time of one object, or undefined when it does not exist. */
  stat(key: string): Promise<StoredObject | undefined>;
  /**
   * Reports, as they happen and in the order they happen across every watch of this driver,
   * changes to the entries directly below `prefix` (a folder): `written` when the object `name`
   * was written, `renamed` when an entry `name` appeared or vanished. Optional: object storage
   * tells no one. Throws when the folder cannot be watched (missing, or the system's limit on
   * watches reached).
   */
  watch?(prefix: string, onChange: (name: string, change: "written" | "renamed") => void): StorageWatch;
  /**
   * Whether `watch` sees every writer's changes: true on a local filesystem, false where other
   * hosts may write too (NFS and other network filesystems: inotify sees this host's writes only).
   */
  readonly watchSeesEveryWrite?: boolean;
  /**
   * Synchronous looks, for a watch's callback that must read before anything else runs (a tag
   * the registry is about to remove): the bytes of an object, or the names directly below a
   * prefix; undefined when absent or unreadable. Only where a read is cheap enough to block on.
   */
  readNow?(key: string, maxBytes: number): Buffer | undefined;
  listNow?(prefix: string): string[] | undefined;
}

/** A watch of one folder: stop it when done. */
export interface StorageWatch {
  close(): void;
}

/** The reason in an error from a driver (or anything else), for warnings. */
export function describeStorageError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
