/**
 * The few read-only filesystem calls the storage code makes, behind an interface so tests can
 * inject failures (EACCES cannot be provoked with chmod when tests run as root).
 * Deliberately nothing here can write.
 */
import { readFile, stat } from "node:fs";
import { opendir, readdir } from "node:fs/promises";
import { promisify } from "node:util";

/** A directory entry, as `readdir(…, { withFileTypes: true })` returns it (lstat semantics). */
export interface DirEntry {
  name: string;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** What `stat` tells the reader. */
export interface FileStats {
  mtimeMs: number;
  size: number;
  isDirectory(): boolean;
}

/** Read-only filesystem access used by the storage reader and the preflight. */
export interface StorageFs {
  listDir(path: string): Promise<DirEntry[]>;
  readFile(path: string): Promise<Buffer>;
  stat(path: string): Promise<FileStats>;
  /** Opens and closes a directory: proves it is readable without listing it. */
  probeDir(path: string): Promise<void>;
}

// The callback API, promisified: for the many small files of a scan it measured about twice as
// fast as node:fs/promises (whose readFile makes several promise round trips per file).
const readFileCallback = promisify(readFile);
const statCallback = promisify(stat);

/** The real filesystem. */
export const nodeStorageFs: StorageFs = {
  listDir: (path) => readdir(path, { withFileTypes: true }),
  readFile: (path) => readFileCallback(path),
  stat: (path) => statCallback(path),
  probeDir: async (path) => {
    const dir = await opendir(path);
    await dir.close();
  },
};

/** The `code` of a Node system error (`ENOENT`, `EACCES`…), if there is one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/** ENOENT or ENOTDIR: the path is simply not there (possibly removed while we scanned). */
export function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** EACCES or EPERM. */
export function isPermissionDenied(error: unknown): boolean {
  const code = errorCode(error);
  return code === "EACCES" || code === "EPERM";
}

/** A short, content-free description of a filesystem error for warnings. */
export function describeFsError(error: unknown): string {
  if (isPermissionDenied(error)) return "permission denied (run as root, e.g. with sudo)";
  const code = errorCode(error);
  if (code === "ENOENT") return "it does not exist";
  if (code) return `the system reported ${code}`;
  return error instanceof Error ? error.message : String(error);
}
