/**
 * The registry storage on a local filesystem: the distribution layout over the filesystem driver.
 * A convenience for the programmatic API and the tests; the CLI picks backends from its table.
 */
import { FilesystemDriver } from "./filesystem-driver.js";
import { DEFAULT_READ_CONCURRENCY, RegistryStorage } from "./registry-storage.js";
import type { StorageFs } from "./storage-fs.js";

export { DEFAULT_READ_CONCURRENCY };

/** Options of {@link FilesystemStorageReader}. */
export interface FilesystemReaderOptions {
  /** Reads in flight per call. Default 32. */
  concurrency?: number;
  /** Filesystem access; tests inject failures here. Defaults to the real, read-only one. */
  fs?: StorageFs;
}

/** Reads a registry storage root on disk. */
export class FilesystemStorageReader extends RegistryStorage {
  constructor(
    readonly root: string,
    options: FilesystemReaderOptions = {},
  ) {
    super(new FilesystemDriver(root, options), options);
  }
}
