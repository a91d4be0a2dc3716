/**
 * Watching a folder of a filesystem storage (inotify on Linux, through fs.watch): the driver's
 * `watch`. Events of every watch arrive in one queue, in the order the kernel saw them.
 */
import { closeSync, openSync, readdirSync, readSync, statfsSync, watch as watchFs } from "node:fs";
import type { StorageWatch } from "./driver.js";

/**
 * Calls `onChange` for each change directly below the folder `path`: `written` for a file
 * written in place, `renamed` for an entry created, removed or moved. Throws ENOENT when the
 * folder does not exist and ENOSPC when the system's watch limit (fs.inotify.max_user_watches)
 * is reached.
 */
export function watchFolder(path: string, onChange: (name: string, change: "written" | "renamed") => void): StorageWatch {
  const watcher = watchFs(path, { persistent: false }, (event, name) => {
    if (name) onChange(String(name), event === "change" ? "written" : "renamed");
  });
  // A watched folder removed (the registry deleting a tag, say) ends its watch with an error on
  // some systems: nothing more can be seen there, which is what the caller expects.
  watcher.on("error", () => watcher.close());
  return { close: () => watcher.close() };
}

/**
 * statfs types of filesystems every write to which passes through this kernel, so that inotify
 * sees them all: ext2/3/4, XFS, Btrfs, tmpfs, overlayfs, ZFS, F2FS, ReiserFS, JFS. On NFS, CIFS,
 * CephFS, GlusterFS (FUSE) and the like, writes made on other hosts are not seen.
 */
const LOCAL_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010, 0x52654973, 0x3153464a]);

/** Whether a watch of the folder `path` sees every write below it (a local filesystem); false when unknown. */
export function watchSeesEveryWrite(path: string): boolean {
  try {
    return isLocalFilesystem(statfsSync(path).type);
  } catch {
    return false;
  }
}

export function isLocalFilesystem(type: number): boolean {
  return LOCAL_FILESYSTEMS.has(type);
}

/** Up to `maxBytes` of a file, read synchronously; undefined when it cannot be read. */
export function readFileNow(path: string, maxBytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buffer = Buffer.alloc(maxBytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, maxBytes, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The names in a folder, read synchronously; undefined when it cannot be listed. */
export function listFolderNow(path: string): string[] | undefined {
  try {
    return readdirSync(path);
  } catch {
    return undefined;
  }
}
