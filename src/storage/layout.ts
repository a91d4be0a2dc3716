/**
 * Paths of the distribution registry's filesystem layout (GITLAB.md §4). Pure path arithmetic,
 * shared by the reader, the test tree builder and the benchmark generator so they cannot drift.
 */
import { join, sep } from "node:path";
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.js";

/** The lockfiles GitLab's registry writes to say which metadata store it uses (GITLAB.md §7). */
export type LockfileName = "database-in-use" | "filesystem-in-use";

/** `<root>/docker/registry/v2`, relative path elements, for checks that walk down to it. */
export const V2_PATH_ELEMENTS = ["docker", "registry", "v2"] as const;

/*
 * Below the root, paths are built by concatenation: repository names are validated
 * (core/repository-name.ts: no empty, `.` or `..` elements), digests too, and tag names are
 * directory entries. Only the root, which the user gives, is normalised by `join`, once per root.
 * A deletion run builds several of these per DELETE, and `join` was measurable there.
 */
let lastRoot: { root: string; repositories: string; blobs: string } | undefined;

function underRoot(root: string): { repositories: string; blobs: string } {
  if (lastRoot?.root !== root) {
    const v2 = join(root, ...V2_PATH_ELEMENTS);
    lastRoot = { root, repositories: join(v2, "repositories"), blobs: join(v2, "blobs") };
  }
  return lastRoot;
}

/** `<root>/docker/registry/v2/repositories`: the parent of every repository directory. */
export function repositoriesDir(root: string): string {
  return underRoot(root).repositories;
}

/** The directory of one repository; `name` uses `/` separators, e.g. `group/project/image`. */
export function repositoryDir(root: string, name: string): string {
  return `${repositoriesDir(root)}${sep}${sep === "/" ? name : name.split("/").join(sep)}`;
}

/** `<repo>/_manifests/revisions`, holding `<alg>/<hex>/link` per pushed manifest. */
export function revisionsDir(root: string, name: string): string {
  return `${repositoryDir(root, name)}${sep}_manifests${sep}revisions`;
}

/** The revision link of `digest` in repository `name`. */
export function revisionLinkPath(root: string, name: string, digest: Digest): string {
  return `${revisionsDir(root, name)}${sep}${digestAlgorithm(digest)}${sep}${digestHex(digest)}${sep}link`;
}

/** `<repo>/_manifests/tags`, holding one directory per tag. */
export function tagsDir(root: string, name: string): string {
  return `${repositoryDir(root, name)}${sep}_manifests${sep}tags`;
}

/** `tags/<tag>/current/link`: the only file that makes a manifest tagged. */
export function tagCurrentLinkPath(root: string, name: string, tag: string): string {
  return `${tagsDir(root, name)}${sep}${tag}${sep}current${sep}link`;
}

/** `tags/<tag>/index/<alg>/<hex>/link`: tag history, never read by the cleanup. */
export function tagIndexLinkPath(root: string, name: string, tag: string, digest: Digest): string {
  return join(tagsDir(root, name), tag, "index", digestAlgorithm(digest), digestHex(digest), "link");
}

/** `<root>/docker/registry/v2/blobs/<alg>/<first 2 hex>/<hex>/data`: the content of a blob. */
export function blobDataPath(root: string, digest: Digest): string {
  return blobDataPathIn(blobsDir(root), digest);
}

/**
 * blobDataPath below an already computed blobsDir(root). A validated digest needs no path
 * normalisation, and a scan builds one of these per manifest: plain concatenation.
 */
export function blobDataPathIn(blobs: string, digest: Digest): string {
  const hex = digestHex(digest);
  return `${blobs}${sep}${digestAlgorithm(digest)}${sep}${hex.slice(0, 2)}${sep}${hex}${sep}data`;
}

/** `<root>/docker/registry/lockfiles/<name>` (GitLab registry only). */
export function lockfilePath(root: string, name: LockfileName): string {
  return join(root, "docker", "registry", "lockfiles", name);
}

/** `docker/registry/v2/blobs`: the blob store shared by all repositories. */
export function blobsDir(root: string): string {
  return underRoot(root).blobs;
}
