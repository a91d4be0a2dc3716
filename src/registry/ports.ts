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
