/** Reading `_manifests/revisions` of one repository, with each manifest blob read once. */
import { join, sep } from "node:path";
import { type Digest, digestFromParts } from "../core/digest.js";
import { type ParsedManifest, parseManifest } from "../core/manifest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { Revision, StorageWarning } from "../core/types.js";
import { blobDataPathIn, blobsDir, revisionsDir } from "./layout.js";
import { readLinkFile } from "./link-file.js";
import { mapLimit } from "./map-limit.js";
import { type StorageFs, describeFsError, isMissing } from "./storage-fs.js";

/** What the reader functions share: where, how, and how many reads in flight. */
export interface ReadContext {
  root: string;
  fs: StorageFs;
  concurrency: number;
}

/** Revisions of one repository, sorted by digest, and what was skipped. */
export interface RevisionScan {
  revisions: Revision[];
  warnings: StorageWarning[];
}

// The algorithms digest.ts accepts; other directories cannot hold revisions the registry serves.
const ALGORITHMS = new Set(["sha256", "sha512"]);

type Found = { digest: Digest; linkPath: string };
type Outcome = { revision?: Revision; warnings: StorageWarning[] };

/** Reads every live revision link of `name` and parses the manifest blob it names. */
export async function readRevisions(context: ReadContext, name: RepositoryName): Promise<RevisionScan> {
  const warnings: StorageWarning[] = [];
  const found = await findRevisionLinks(context, name, warnings);
  const blobs = blobsDir(context.root);
  const outcomes = await mapLimit(found, context.concurrency, (item) => readRevision(context, name, item, blobs));
  const revisions: Revision[] = [];
  for (const outcome of outcomes) {
    if (outcome.revision) revisions.push(outcome.revision);
    warnings.push(...outcome.warnings);
  }
  return { revisions, warnings };
}

/** Lists `<alg>/<hex>` directories; their link files are read later, concurrently. */
async function findRevisionLinks(context: ReadContext, name: RepositoryName, warnings: StorageWarning[]): Promise<Found[]> {
  const base = revisionsDir(context.root, name);
  const found: Found[] = [];
  for (const algorithm of await listNames(context, base, warnings)) {
    const algorithmDir = join(base, algorithm);
    if (!ALGORITHMS.has(algorithm)) {
      warnings.push({ path: algorithmDir, message: `Unknown digest algorithm directory "${algorithm}" in ${name}; skipped.` });
      continue;
    }
    for (const hex of await listNames(context, algorithmDir, warnings)) {
      const digest = digestFromParts(algorithm, hex);
      if (!digest) {
        warnings.push({ path: join(algorithmDir, hex), message: `"${hex}" is not a ${algorithm} digest; this entry of ${name} was skipped.` });
        continue;
      }
      // The hex is validated: no normalisation needed, and this runs once per manifest.
      found.push({ digest, linkPath: `${algorithmDir}${sep}${hex}${sep}link` });
    }
  }
  return found.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

async function listNames(context: ReadContext, dir: string, warnings: StorageWarning[]): Promise<string[]> {
  try {
    return (await context.fs.listDir(dir)).map((entry) => entry.name).sort();
  } catch (error) {
    if (!isMissing(error)) {
      warnings.push({ path: dir, message: `This directory could not be listed: ${describeFsError(error)}; the revisions in it were not read.` });
    }
    return [];
  }
}

async function readRevision(context: ReadContext, name: RepositoryName, found: Found, blobs: string): Promise<Outcome> {
  const link = await readLinkFile(context.fs, found.linkPath, { expected: found.digest, withMtime: true });
  // No link file: the revision was deleted through the API (an empty `<hex>/` stays behind).
  if (link.kind === "missing") return { warnings: [] };
  if (link.kind === "bad") {
    const message = `The revision link file ${link.problem}; revision ${found.digest} of ${name} was skipped.`;
    return { warnings: [{ path: found.linkPath, message }] };
  }
  const revision: Revision = { digest: found.digest, linkedAt: link.mtimeMs ?? 0 };
  const blobPath = blobDataPathIn(blobs, found.digest);
  let bytes: Buffer;
  try {
    bytes = await context.fs.readFile(blobPath);
  } catch (error) {
    revision.problem = isMissing(error)
      ? `its manifest blob ${blobPath} is missing`
      : `its manifest blob ${blobPath} could not be read: ${describeFsError(error)}`;
    return { revision, warnings: [manifestWarning(name, revision, blobPath)] };
  }
  revision.manifestSize = bytes.length;
  const parsed = parseManifest(bytes);
  if (!parsed.ok) {
    revision.problem = `its manifest blob ${blobPath} could not be parsed: ${parsed.problem}`;
    return { revision, warnings: [manifestWarning(name, revision, blobPath)] };
  }
  revision.manifest = share(context, parsed.manifest);
  return { revision, warnings: [] };
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

function manifestWarning(name: RepositoryName, revision: Revision, blobPath: string): StorageWarning {
  return { path: blobPath, message: `Manifest ${revision.digest} of ${name}: ${revision.problem}.` };
}
