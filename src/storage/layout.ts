/**
 * The distribution registry's storage layout (GITLAB.md §4) as keys: `/`-separated, relative to
 * the storage root, the same on every backend (a file path below the root on disk, an object key
 * below `rootdirectory` in a bucket). Pure string arithmetic, shared by the reader, the test tree
 * builder and the benchmark generator so they cannot drift.
 */
import { join, sep } from "node:path";
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.js";

/** The lockfiles GitLab's registry writes to say which metadata store it uses (GITLAB.md §7). */
export type LockfileName = "database-in-use" | "filesystem-in-use";

/** `docker/registry/v2`, as path elements, for checks that walk down to it. */
export const V2_PATH_ELEMENTS = ["docker", "registry", "v2"] as const;

/*
 * Keys are built by concatenation: repository names are validated (core/repository-name.ts: no
 * empty, `.` or `..` elements), digests too, and tag names are listed entries. A scan builds
 * several per manifest and a deletion run several per DELETE.
 */

/** The prefix of every repository. */
export const REPOSITORIES_PREFIX = "docker/registry/v2/repositories/";
/** The blob store shared by all repositories. */
export const BLOBS_PREFIX = "docker/registry/v2/blobs/";

/** The prefix of one repository; `name` uses `/` separators, e.g. `group/project/image`. */
export function repositoryPrefix(name: string): string {
  return `${REPOSITORIES_PREFIX}${name}/`;
}

/** `<repo>/_manifests/revisions/`, holding `<alg>/<hex>/link` per pushed manifest. */
export function revisionsPrefix(name: string): string {
  return `${REPOSITORIES_PREFIX}${name}/_manifests/revisions/`;
}

/** The revision link of `digest` in repository `name`. */
export function revisionLinkKey(name: string, digest: Digest): string {
  return `${revisionsPrefix(name)}${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

/** `<repo>/_manifests/tags/`, holding one prefix per tag. */
export function tagsPrefix(name: string): string {
  return `${REPOSITORIES_PREFIX}${name}/_manifests/tags/`;
}

/** `tags/<tag>/current/link`: the only key that makes a manifest tagged. */
export function tagCurrentLinkKey(name: string, tag: string): string {
  return `${tagsPrefix(name)}${tag}/current/link`;
}

/** `tags/<tag>/index/<alg>/<hex>/link`: tag history, never read by the cleanup. */
export function tagIndexLinkKey(name: string, tag: string, digest: Digest): string {
  return `${tagsPrefix(name)}${tag}/index/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

/** `docker/registry/v2/blobs/<alg>/<first 2 hex>/<hex>/data`: the content of a blob. */
export function blobDataKey(digest: Digest): string {
  const hex = digestHex(digest);
  return `${BLOBS_PREFIX}${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}/data`;
}

/** `docker/registry/lockfiles/<name>` (GitLab registry only). */
export function lockfileKey(name: LockfileName): string {
  return `docker/registry/lockfiles/${name}`;
}

/** The length of a link file that holds `digest` and nothing else. */
export function linkSizeOf(digest: Digest): number {
  return digest.length;
}

// Below: the same places as file paths under a root on disk, for the filesystem backend, the
// test tree builder and the benchmark generator. The root is normalised by `join` once per root.

let lastRoot: { root: string; base: string } | undefined;

/** The file path of `key` below the storage root `root` (equal to `join(root, key)`). */
export function pathOf(root: string, key: string): string {
  if (lastRoot?.root !== root) {
    const joined = join(root);
    lastRoot = { root, base: joined.length > 1 && joined.endsWith(sep) ? joined.slice(0, -1) : joined };
  }
  const { base } = lastRoot;
  const relative = sep === "/" ? key : key.split("/").join(sep);
  return base === sep ? `${sep}${relative}` : `${base}${sep}${relative}`;
}

/** `<root>/docker/registry/v2/repositories`: the parent of every repository directory. */
export function repositoriesDir(root: string): string {
  return pathOf(root, REPOSITORIES_PREFIX.slice(0, -1));
}

/** The directory of one repository. */
export function repositoryDir(root: string, name: string): string {
  return pathOf(root, repositoryPrefix(name).slice(0, -1));
}

/** `<repo>/_manifests/revisions`. */
export function revisionsDir(root: string, name: string): string {
  return pathOf(root, revisionsPrefix(name).slice(0, -1));
}

/** The revision link file of `digest` in repository `name`. */
export function revisionLinkPath(root: string, name: string, digest: Digest): string {
  return pathOf(root, revisionLinkKey(name, digest));
}

/** `<repo>/_manifests/tags`. */
export function tagsDir(root: string, name: string): string {
  return pathOf(root, tagsPrefix(name).slice(0, -1));
}

/** `tags/<tag>/current/link` as a file path. */
export function tagCurrentLinkPath(root: string, name: string, tag: string): string {
  return pathOf(root, tagCurrentLinkKey(name, tag));
}

/** `tags/<tag>/index/<alg>/<hex>/link` as a file path. */
export function tagIndexLinkPath(root: string, name: string, tag: string, digest: Digest): string {
  return pathOf(root, tagIndexLinkKey(name, tag, digest));
}

/** `<root>/docker/registry/v2/blobs`. */
export function blobsDir(root: string): string {
  return pathOf(root, BLOBS_PREFIX.slice(0, -1));
}

/** The data file of a blob. */
export function blobDataPath(root: string, digest: Digest): string {
  return pathOf(root, blobDataKey(digest));
}

/** `<root>/docker/registry/lockfiles/<name>`. */
export function lockfilePath(root: string, name: LockfileName): string {
  return pathOf(root, lockfileKey(name));
}
