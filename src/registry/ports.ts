/** What the cleanup needs from the registry's HTTP API (`/v2`). */
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";

/** The result of one DELETE, for the cases that are not errors. */
export type DeleteOutcome =
  | { kind: "deleted" }
  /** 404 MANIFEST_UNKNOWN: someone (or an earlier run) already removed it. */
  | { kind: "already-gone" }
  /** 401 PROTECTED_MANIFEST (GitLab registry): tag protection or immutability forbids it. */
  | { kind: "protected"; message: string };

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
}

/** Facts from an authenticated `GET /v2/`. */
export interface RegistryFacts {
  /** From `Gitlab-Container-Registry-Database-Enabled`; undefined when the header is absent. */
  databaseEnabled?: boolean;
}

/**
 * Registry operations. Tokens come from a TokenProvider; on a 401 the client asks for a fresh
 * token once and repeats the request. Transient failures are retried (registry/retry.ts).
 */
export interface RegistryApi {
  ping(name: RepositoryName): Promise<RegistryFacts>;
  /** All tags, following `Link` pagination; `[]` when the registry answers `"tags": null`. */
  listTags(name: RepositoryName): Promise<string[]>;
  /** Throws DeletesDisabledError on 405, RegistryError on other failures. */
  deleteManifest(name: RepositoryName, digest: Digest): Promise<DeleteOutcome>;
  /** undefined on 404. */
  getManifest(name: RepositoryName, digest: Digest): Promise<FetchedManifest | undefined>;
  /** Re-uploads a manifest by digest (restore). */
  putManifest(name: RepositoryName, digest: Digest, manifest: FetchedManifest): Promise<void>;
}

/**
 * How a registry removes a tag without removing its manifest (GITLAB.md §12): `tag-delete` is
 * `DELETE /v2/<name>/manifests/<tag>` (GitLab's registry 16.4+, distribution 3.x); `dummy-manifest`
 * is GitLab's own method for the others (distribution 2.x), which needs `push` in the repository.
 */
export type TagDeleteMethod = "tag-delete" | "dummy-manifest";

/** What became of one tag. */
export type TagDeleteOutcome =
  | { kind: "deleted" }
  /** The tag did not exist any more when it was checked (404 MANIFEST_UNKNOWN). */
  | { kind: "already-gone" }
  /** The tag pointed at another digest than the caller expected (pushed again): left alone. */
  | { kind: "changed"; digest: Digest }
  /** GitLab's tag protection or immutability forbids it (401 PROTECTED_TAG, IMMUTABLE_TAG, PROTECTED_MANIFEST). */
  | { kind: "protected"; message: string }
  /** Not deleted, and why: `deleting tag group/app:v1: 401 UNAUTHORIZED: …`. */
  | { kind: "failed"; message: string };

/**
 * Deletes tags by name, never by deleting the digest they point at (that would remove every
 * other tag on it, GITLAB.md §5). One instance serves the whole run.
 */
export interface TagDeleter {
  /**
   * Which method the registry supports, learned once per run (a property of the registry, not of
   * a repository) in `name`, where the run's token must grant `delete`. Ask GitLab for `push` only
   * when this answers `dummy-manifest`. Throws DeletesDisabledError when the registry refuses deletes.
   */
  tagDeleteMethod(name: RepositoryName): Promise<TagDeleteMethod>;
  /**
   * Deletes each tag of `tags` (tag -> the digest the plan saw it on) in `name`, one outcome per
   * tag. Each tag is read again (GET by tag) right before it is changed, and left alone (`changed`)
   * when it points elsewhere by then.
   *
   * The caller re-checks the repository right before calling, and must keep the time from that
   * check to this call as short as possible: no journal flushes of other repositories, no prompts,
   * no other repository's work in between. What remains is one round trip per tag between this
   * method's read and the change (the DELETE by tag, or the PUT of the dummy): a push of the tag
   * in that gap is removed with it (the pushed manifest stays, untagged), so journal each tag with
   * its digest before calling, and treat a revision link of that repository created during the
   * call as a push that may have lost its tag.
   *
   * Throws DeletesDisabledError (stop the run); every other failure is a `failed` outcome. After
   * the signal aborts, changes in flight are finished and the tags not reached are `failed`.
   */
  deleteTags(name: RepositoryName, tags: ReadonlyMap<string, Digest>): Promise<Map<string, TagDeleteOutcome>>;
}
