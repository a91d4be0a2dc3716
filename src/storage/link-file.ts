/**
 * Reading the registry's link files: one bare digest, no newline (GITLAB.md §4). Corrupt and
 * empty ones exist in the wild, so every outcome is a value, never an exception.
 */
import { type Digest, parseDigest } from "../core/digest.js";
import { type StorageFs, describeFsError, isMissing } from "./storage-fs.js";

/** The longest digest (sha512) is 135 bytes; anything much larger is not a link file. */
const MAX_LINK_BYTES = 256;

/** What reading one link file gave. `problem` completes the sentence "The link file <path> …". */
export type LinkRead =
  | { kind: "ok"; digest: Digest; mtimeMs?: number }
  | { kind: "missing" }
  | { kind: "bad"; problem: string };

/** Options of {@link readLinkFile}. */
export interface ReadLinkOptions {
  /** The digest the file must hold (revision links name their digest in the directory path). */
  expected?: Digest;
  /** Also return the file's mtime (read through the same descriptor: one more system call). */
  withMtime?: boolean;
}

/**
 * Reads and validates a link file. A link that vanished (ENOENT/ENOTDIR, e.g. deleted while
 * scanning) is `missing`, not an error: that is how the registry records a deletion.
 */
export async function readLinkFile(fs: StorageFs, path: string, options: ReadLinkOptions = {}): Promise<LinkRead> {
  let mtimeMs: number | undefined;
  let bytes: Buffer;
  try {
    if (options.withMtime) {
      const read = await fs.readSmallFile(path, MAX_LINK_BYTES);
      // Refuse to slurp a huge file that merely sits where a link should be.
      if (read.bytes === undefined) {
        return { kind: "bad", problem: `is ${read.stats.size} bytes long: too long to hold a digest` };
      }
      mtimeMs = Math.floor(read.stats.mtimeMs);
      bytes = read.bytes;
    } else {
      bytes = await fs.readFile(path);
    }
  } catch (error) {
    if (isMissing(error)) return { kind: "missing" };
    return { kind: "bad", problem: `could not be read: ${describeFsError(error)}` };
  }
  return validate(bytes, options.expected, mtimeMs);
}

function validate(bytes: Buffer, expected: Digest | undefined, mtimeMs: number | undefined): LinkRead {
  if (bytes.length === 0) return { kind: "bad", problem: "is empty" };
  if (bytes.length > MAX_LINK_BYTES) {
    return { kind: "bad", problem: `is ${bytes.length} bytes long: too long to hold a digest` };
  }
  // Strict like the registry itself: a trailing newline makes the link unusable there too.
  const digest = parseDigest(bytes.toString("latin1"));
  if (!digest) return { kind: "bad", problem: `does not hold a valid digest (${bytes.length} bytes)` };
  if (expected !== undefined && digest !== expected) {
    return { kind: "bad", problem: `holds ${digest}, not the digest ${expected} of its directory` };
  }
  return mtimeMs === undefined ? { kind: "ok", digest } : { kind: "ok", digest, mtimeMs };
}
