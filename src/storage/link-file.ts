/**
 * Reading the registry's link files: one bare digest, no newline (GITLAB.md §4). Corrupt and
 * empty ones exist in the wild, so every outcome is a value, never an exception (except the
 * storage being unreachable as a whole, which ends the run).
 */
import { type Digest, parseDigest } from "../core/digest.js";
import { type StorageDriver, StorageUnavailableError, describeStorageError } from "./driver.js";

/** The longest digest (sha512) is 135 bytes; anything much larger is not a link file. */
const MAX_LINK_BYTES = 256;

/** What reading one link file gave. `problem` completes the sentence "The link file <path> …". */
export type LinkRead =
  | { kind: "ok"; digest: Digest; modifiedMs?: number }
  | { kind: "missing" }
  /**
   * `notDigest`: the content is no digest at all (empty, garbled, too long), which stops the
   * registry's garbage collection where it reads the link; `content` is what it held, when read.
   * A valid digest that is not the expected one does not stop it, and has no `notDigest`.
   */
  | { kind: "bad"; problem: string; notDigest?: { content?: string } };

/**
 * Reads and validates the link at `key`; `expected` is the digest it must hold (revision links
 * name theirs in the key). A link that vanished (deleted while scanning) is `missing`, not an
 * error: that is how the registry records a deletion.
 */
export async function readLinkFile(driver: StorageDriver, key: string, expected?: Digest): Promise<LinkRead> {
  let read: Awaited<ReturnType<StorageDriver["get"]>>;
  try {
    read = await driver.get(key, MAX_LINK_BYTES);
  } catch (error) {
    rethrowUnavailable(error);
    return { kind: "bad", problem: `could not be read: ${describeStorageError(error)}` };
  }
  if (read === undefined) return { kind: "missing" };
  // Refuse to slurp a huge object that merely sits where a link should be.
  if ("tooLarge" in read) return { kind: "bad", problem: `is ${read.tooLarge} bytes long: too long to hold a digest`, notDigest: {} };
  return validate(read.bytes, expected, read.modifiedMs);
}

function validate(bytes: Buffer, expected: Digest | undefined, modifiedMs: number | undefined): LinkRead {
  if (bytes.length === 0) return { kind: "bad", problem: "is empty", notDigest: { content: "" } };
  if (bytes.length > MAX_LINK_BYTES) {
    return { kind: "bad", problem: `is ${bytes.length} bytes long: too long to hold a digest`, notDigest: {} };
  }
  // Strict like the registry itself: a trailing newline makes the link unusable there too.
  const content = bytes.toString("latin1");
  const digest = parseDigest(content);
  if (!digest) return { kind: "bad", problem: `does not hold a valid digest (${bytes.length} bytes)`, notDigest: { content } };
  if (expected !== undefined && digest !== expected) {
    return { kind: "bad", problem: `holds ${digest}, not the digest ${expected} of its directory` };
  }
  return modifiedMs === undefined ? { kind: "ok", digest } : { kind: "ok", digest, modifiedMs: Math.floor(modifiedMs) };
}

/** A read that failed because the storage is gone as a whole must end the run, not become a warning. */
export function rethrowUnavailable(error: unknown): void {
  if (error instanceof StorageUnavailableError) throw error;
}
