/**
 * Builders for plan tests: revisions with parsed manifests and deterministic fake digests
 * derived from a label, so a test can name manifests ("app", "amd64") instead of hex.
 */
import { createHash } from "node:crypto";
import { type Digest, parseDigest } from "../../src/core/digest.js";
import type { ChildDescriptor, ParsedManifest } from "../../src/core/manifest.js";
import { MediaType } from "../../src/core/media-types.js";
import { type RepositoryName, parseRepositoryName } from "../../src/core/repository-name.js";
import type { RepositorySnapshot, Revision, StorageWarning, UnreadableTag } from "../../src/core/types.js";

/** The `now` every builder and plan test uses. */
export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Revisions are this old unless a builder is told otherwise: older than any grace period used. */
export const DEFAULT_AGE_MS = 30 * DAY;

/** A valid sha256 digest derived from `label` (the same label always gives the same digest). */
export function fakeDigest(label: string): Digest {
  return parseDigest(`sha256:${createHash("sha256").update(label).digest("hex")}`)!;
}

/** A repository name, checked against the grammar. */
export function repoName(text = "group/project/app"): RepositoryName {
  const name = parseRepositoryName(text);
  if (!name) throw new Error(`bad repository name in a test: ${text}`);
  return name;
}

interface RevisionOptions {
  /** ms since the revision link was written (default DEFAULT_AGE_MS). */
  ageMs?: number;
  mediaType?: string;
  subject?: Revision | Digest;
}

type Target = Revision | Digest;

function digestOf(target: Target): Digest {
  return typeof target === "string" ? target : target.digest;
}

function revision(label: string, manifest: ParsedManifest | undefined, options: RevisionOptions): Revision {
  const result: Revision = { digest: fakeDigest(label), linkedAt: NOW - (options.ageMs ?? DEFAULT_AGE_MS) };
  if (manifest) {
    if (options.subject !== undefined) manifest.subject = digestOf(options.subject);
    result.manifest = manifest;
    result.manifestSize = 512;
  }
  return result;
}

/** A single-platform image manifest (OCI by default) with a config and one layer. */
export function image(label: string, options: RevisionOptions = {}): Revision {
  const blobs = [
    { digest: fakeDigest(`${label}/config`), size: 100 },
    { digest: fakeDigest(`${label}/layer`), size: 1000 },
  ];
  const mediaType = options.mediaType ?? MediaType.ociManifest;
  return revision(label, { kind: "image", mediaType, children: [], blobs }, options);
}

/** An index (OCI by default) listing `children`: revisions, or bare digests of things not stored. */
export function index(label: string, children: Target[], options: RevisionOptions = {}): Revision {
  const descriptors: ChildDescriptor[] = children.map((child) => ({ digest: digestOf(child) }));
  const mediaType = options.mediaType ?? MediaType.ociIndex;
  return revision(label, { kind: "index", mediaType, children: descriptors, blobs: [] }, options);
}

/** An OCI referrer (signature, SBOM…): an image manifest whose `subject` is `subject`. */
export function referrer(label: string, subject: Target, options: RevisionOptions = {}): Revision {
  const result = image(label, { ...options, subject });
  result.manifest!.artifactType = "application/vnd.dev.cosign.artifact.sig.v1+json";
  return result;
}

/** A schema 1 manifest (signed), as old Docker clients pushed them. */
export function schema1(label: string, options: RevisionOptions = {}): Revision {
  const blobs = [{ digest: fakeDigest(`${label}/layer`), size: 0 }];
  const manifest: ParsedManifest = { kind: "schema1", mediaType: MediaType.dockerSchema1Signed, children: [], blobs };
  return revision(label, manifest, options);
}

/** A revision whose manifest blob could not be read or parsed. */
export function unreadable(label: string, problem = "the manifest is not valid JSON", options: RevisionOptions = {}): Revision {
  return { ...revision(label, undefined, options), problem };
}

interface SnapshotInput {
  name?: string;
  revisions: Revision[];
  /** tag -> the revision (or bare digest) its current link points at. */
  tags?: Record<string, Target>;
  unreadableTags?: UnreadableTag[];
  warnings?: StorageWarning[];
}

/** A repository snapshot as the storage reader would return it. */
export function snapshot(input: SnapshotInput): RepositorySnapshot {
  const tags = new Map<string, Digest>();
  for (const [tag, target] of Object.entries(input.tags ?? {})) tags.set(tag, digestOf(target));
  return {
    name: repoName(input.name),
    revisions: input.revisions,
    tags,
    unreadableTags: input.unreadableTags ?? [],
    warnings: input.warnings ?? [],
  };
}

/** An unreadable tag as the storage reader reports a corrupt `current/link`. */
export function unreadableTag(tag: string, problem = "the link file is empty"): UnreadableTag {
  return { tag, path: `group/project/app/_manifests/tags/${tag}/current/link`, problem };
}
