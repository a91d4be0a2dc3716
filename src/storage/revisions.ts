/** Reading `_manifests/revisions` of one repository, with each manifest blob read once. */
import { type Digest, digestFromParts } from "../core/digest.js";
import { GC_MEDIA_TYPES, manifestGcFailure } from "../core/gc-hazards.js";
import { type ManifestShape, type ParsedManifest, parseManifest } from "../core/manifest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { GcObservation, Revision, StorageWarning } from "../core/types.js";
import { type StorageDriver, describeStorageError } from "./driver.js";
import { blobDataKey, linkSizeOf, revisionsPrefix } from "./layout.js";
import { readLinkFile, rethrowUnavailable } from "./link-file.js";
import { mapLimit } from "./map-limit.js";

/** What the reader functions share: the storage, and how many reads in flight. */
export interface ReadContext {
  driver: StorageDriver;
  concurrency: number;
}

/** Revisions of one repository, sorted by digest, and what was skipped. */
export interface RevisionScan {
  revisions: Revision[];
  warnings: StorageWarning[];
}

/** Below `_manifests/revisions/`: `<alg>/<hex>/link`. */
export const REVISION_LINK_SHAPE = ["*", "*", "link"] as const;

// The algorithms digest.ts accepts; other directories cannot hold revisions the registry serves.
const ALGORITHMS = new Set(["sha256", "sha512"]);

/** A revision link as the listing gave it. */
type Found = { digest: Digest; key: string; size: number; modifiedMs: number; problem?: string };
type Outcome = { revision?: Revision; warnings: StorageWarning[] };

/** Reads every live revision link of `name` and parses the manifest blob it names. */
export async function readRevisions(context: ReadContext, name: RepositoryName): Promise<RevisionScan> {
  const warnings: StorageWarning[] = [];
  const found = await findRevisionLinks(context, name, warnings);
  const outcomes = await mapLimit(found, context.concurrency, (item) => readRevision(context, name, item));
  const revisions: Revision[] = [];
  for (const outcome of outcomes) {
    if (outcome.revision) revisions.push(outcome.revision);
    warnings.push(...outcome.warnings);
  }
  return { revisions, warnings };
}

/**
 * Lists `<alg>/<hex>/link` below the repository's revisions, with sizes and times: on object
 * storage one request a thousand revisions, and the digest is in the key. A deleted revision
 * (the registry removes only its link; on disk an empty `<hex>/` stays) lists nothing.
 */
async function findRevisionLinks(context: ReadContext, name: RepositoryName, warnings: StorageWarning[]): Promise<Found[]> {
  const { driver } = context;
  const prefix = revisionsPrefix(name);
  const found: Found[] = [];
  const warned = new Set<string>();
  const warnOnce = (at: string, message: string): void => {
    if (warned.has(at)) return;
    warned.add(at);
    warnings.push({ path: driver.describe(at), message });
  };
  try {
    for await (const object of driver.listObjects(prefix, REVISION_LINK_SHAPE)) {
      const [algorithm = "", hex = "", file, ...deeper] = object.key.slice(prefix.length).split("/");
      if (!ALGORITHMS.has(algorithm)) {
        warnOnce(`${prefix}${algorithm}`, `Unknown digest algorithm directory "${algorithm}" in ${name}; skipped.`);
        continue;
      }
      const digest = digestFromParts(algorithm, hex);
      if (!digest) {
        warnOnce(`${prefix}${algorithm}/${hex}`, `"${hex}" is not a ${algorithm} digest; this entry of ${name} was skipped.`);
        continue;
      }
      // Anything else in a revision's folder is not the registry's: only `link` makes a revision.
      if (file === "link" && deeper.length === 0) found.push({ digest, ...object });
    }
  } catch (error) {
    rethrowUnavailable(error);
    const message = `This directory could not be listed: ${describeStorageError(error)}; the revisions in it were not read.`;
    warnings.push({ path: driver.describe(prefix.slice(0, -1)), message, unread: true });
  }
  return found.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

async function readRevision(context: ReadContext, name: RepositoryName, found: Found): Promise<Outcome> {
  const { driver } = context;
  // A link of exactly its digest's length is taken as the listing shows it (the digest is in its
  // key, as garbage collection takes it); any other size is read, to say what is wrong with it.
  if (found.problem !== undefined || found.size !== linkSizeOf(found.digest)) {
    const link = await readLinkFile(driver, found.key, found.digest);
    // Gone since it was listed: deleted through the API meanwhile.
    if (link.kind === "missing") return { warnings: [] };
    if (link.kind === "bad") {
      const message = `The revision link file ${link.problem}; revision ${found.digest} of ${name} was skipped.`;
      const warning: StorageWarning = { path: driver.describe(found.key), message };
      if (link.notDigest) warning.gc = { kind: "revision-link", repository: name, digest: found.digest, ...link.notDigest };
      return { warnings: [warning] };
    }
  }
  const revision: Revision = { digest: found.digest, linkedAt: Math.floor(found.modifiedMs) };
  const read = await readManifest(context, revision);
  if (read === undefined) return { revision, warnings: [] };
  const path = driver.describe(blobDataKey(found.digest));
  const gc: GcObservation | undefined = read.shape
    ? { kind: "manifest", repository: name, digest: found.digest, link: driver.describe(found.key), shape: read.shape }
    : undefined;
  // Parsed here, yet of a media type distribution 2.8 does not decode: planned as usual, but
  // garbage collection stops at it, so it is said (deleting it, as a candidate, removes the obstacle).
  if (read.problem === undefined) return { revision, warnings: gc ? [{ path, message: `Manifest ${revision.digest} of ${name}: ${read.gcOnly}.`, gc }] : [] };
  revision.problem = read.problem;
  const warning: StorageWarning = { path, message: `Manifest ${revision.digest} of ${name}: ${read.problem}.` };
  if (gc) warning.gc = gc;
  return { revision, warnings: [warning] };
}

/**
 * What reading a manifest blob found wrong: `problem` when it could not be read or parsed;
 * `shape` when distribution's own decoder would reject it too (then garbage collection stops
 * at it), with `gcOnly` saying so when this tool could parse it all the same.
 */
type ManifestRead = { problem?: string; shape?: ManifestShape; gcOnly?: string };

/** Reads and parses the manifest blob into `revision`; returns what is wrong with it, if anything. */
async function readManifest(context: ReadContext, revision: Revision): Promise<ManifestRead | undefined> {
  const { driver } = context;
  const where = (): string => driver.describe(blobDataKey(revision.digest));
  let bytes: Buffer;
  try {
    const read = await driver.get(blobDataKey(revision.digest));
    if (read === undefined || "tooLarge" in read) return { problem: `its manifest blob ${where()} is missing` };
    bytes = read.bytes;
  } catch (error) {
    rethrowUnavailable(error);
    return { problem: `its manifest blob ${where()} could not be read: ${describeStorageError(error)}` };
  }
  revision.manifestSize = bytes.length;
  const parsed = parseManifest(bytes);
  if (!parsed.ok) {
    const problem = `its manifest blob ${where()} could not be parsed: ${parsed.problem}`;
    return manifestGcFailure(parsed.shape, revision.digest) === undefined ? { problem } : { problem, shape: parsed.shape };
  }
  revision.manifest = share(context, parsed.manifest);
  // Schema 1, or schema 2 with the media type it declared (or implied, always a decodable one).
  if (parsed.manifest.kind === "schema1" || GC_MEDIA_TYPES.has(parsed.manifest.mediaType)) return undefined;
  const shape: ManifestShape = { json: "object", schemaVersion: 2, mediaType: parsed.manifest.mediaType };
  return { shape, gcOnly: `its media type ${parsed.manifest.mediaType} is not one the registry decodes, so garbage collection stops at it` };
}

/**
 * One string per distinct media type across the reader's whole scan: every kept manifest and
 * candidate holds one, and there are only a handful. Digests are not shared: the cleanup keeps
 * blobs as numeric keys (core/space.ts), and a table of every digest ever seen (configs are
 * unique per manifest) would itself grow to a million strings on a large registry.
 */
const sharedStrings = new WeakMap<ReadContext, Map<string, string>>();

function share(context: ReadContext, manifest: ParsedManifest): ParsedManifest {
  let table = sharedStrings.get(context);
  if (!table) sharedStrings.set(context, (table = new Map()));
  const one = <T extends string>(text: T): T => {
    const known = table!.get(text);
    if (known !== undefined) return known as T;
    table!.set(text, text);
    return text;
  };
  manifest.mediaType = one(manifest.mediaType);
  for (const child of manifest.children) if (child.mediaType !== undefined) child.mediaType = one(child.mediaType);
  return manifest;
}
