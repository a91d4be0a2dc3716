/**
 * Parsing of manifest JSON as stored in the blob store. Only what the plan and the space
 * estimate need is kept: the kind, child manifests, the OCI subject, and blob references.
 */
import { type Digest, parseDigest } from "./digest.js";
import { MediaType, isIndexMediaType } from "./media-types.js";

/** OCI 1.1-rc's artifact manifest: no `schemaVersion`, `blobs` instead of `layers`; dropped from the final spec. */
export const OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json";

/** A blob a manifest references (config or layer), with the size the manifest declares. */
export interface BlobReference {
  digest: Digest;
  size: number;
}

/** A manifest listed by an index or manifest list. */
export interface ChildDescriptor {
  digest: Digest;
  mediaType?: string;
  /** e.g. `linux/arm64`, or `unknown/unknown` for buildx attestations. */
  platform?: string;
}

export type ManifestKind = "index" | "image" | "schema1";

/** What the tool knows about one manifest after reading its blob. */
export interface ParsedManifest {
  kind: ManifestKind;
  /** The declared media type, or the one inferred from the content when it declares none. */
  mediaType: string;
  /** Entries of `manifests[]` (indexes only). They may name blobs, not manifests (buildx cache). */
  children: ChildDescriptor[];
  /** OCI 1.1 `subject`: the manifest this one refers to (signature, SBOM, attestation). */
  subject?: Digest;
  /** Config and layer blobs, for space estimates. Schema 1 lists `fsLayers` without sizes (size 0). */
  blobs: BlobReference[];
  artifactType?: string;
}

/**
 * What the top of a manifest blob looked like, as far as distribution's own decoder looks: whether
 * it is JSON, a JSON object, and its `schemaVersion` and `mediaType` (core/gc-hazards.ts judges it).
 */
export interface ManifestShape {
  json: "invalid" | "not-object" | "object";
  /** The JSON type of the value when it is not an object (`array`, `string`, …). */
  valueType?: string;
  schemaVersion?: unknown;
  mediaType?: string;
}

export type ParseResult = { ok: true; manifest: ParsedManifest } | { ok: false; problem: string; shape: ManifestShape };

/** Parses manifest bytes. Never throws: malformed content yields a problem to report. */
export function parseManifest(bytes: Uint8Array): ParseResult {
  let json: unknown;
  try {
    // A view of the same bytes, not a copy (Buffer.from(bytes) would copy every manifest once more).
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    return { ok: false, problem: "the manifest is not valid JSON", shape: { json: "invalid" } };
  }
  if (!isObject(json)) {
    const valueType = Array.isArray(json) ? "array" : json === null ? "null" : typeof json;
    return { ok: false, problem: "the manifest is not a JSON object", shape: { json: "not-object", valueType } };
  }
  const declared = typeof json.mediaType === "string" ? json.mediaType : undefined;
  const result = parseObject(json, declared);
  if (result.ok) return result;
  const shape: ManifestShape = { json: "object" };
  if (json.schemaVersion !== undefined) shape.schemaVersion = json.schemaVersion;
  if (declared !== undefined) shape.mediaType = declared;
  return { ok: false, problem: result.problem, shape };
}

type ObjectResult = { ok: true; manifest: ParsedManifest } | { ok: false; problem: string };

function parseObject(json: Record<string, unknown>, declared: string | undefined): ObjectResult {
  if (json.schemaVersion === 1) return parseSchema1(json);
  if (json.schemaVersion !== 2) {
    const artifact = declared === OCI_ARTIFACT_MANIFEST ? ` (an OCI artifact manifest, ${OCI_ARTIFACT_MANIFEST})` : "";
    return { ok: false, problem: `unsupported schemaVersion ${JSON.stringify(json.schemaVersion)}${artifact}` };
  }
  if (isIndexMediaType(declared) || (declared === undefined && Array.isArray(json.manifests))) {
    return parseIndex(json, declared ?? MediaType.ociIndex);
  }
  if (Array.isArray(json.layers) || isObject(json.config)) {
    return parseImage(json, declared ?? MediaType.ociManifest);
  }
  return { ok: false, problem: `unrecognised manifest (mediaType ${declared ?? "missing"})` };
}

function parseIndex(json: Record<string, unknown>, mediaType: string): ObjectResult {
  if (!Array.isArray(json.manifests)) return { ok: false, problem: "the index has no manifests list" };
  const children: ChildDescriptor[] = [];
  for (const entry of json.manifests) {
    const digest = isObject(entry) && typeof entry.digest === "string" ? parseDigest(entry.digest) : undefined;
    if (!digest) return { ok: false, problem: "the index lists an entry without a valid digest" };
    const child: ChildDescriptor = { digest };
    if (isObject(entry) && typeof entry.mediaType === "string") child.mediaType = entry.mediaType;
    const platform = isObject(entry) ? formatPlatform(entry.platform) : undefined;
    if (platform) child.platform = platform;
    children.push(child);
  }
  return finish(json, { kind: "index", mediaType, children, blobs: [] });
}

function parseImage(json: Record<string, unknown>, mediaType: string): ObjectResult {
  const blobs: BlobReference[] = [];
  const entries = [json.config, ...(Array.isArray(json.layers) ? json.layers : [])];
  for (const entry of entries) {
    if (entry === undefined) continue;
    const digest = isObject(entry) && typeof entry.digest === "string" ? parseDigest(entry.digest) : undefined;
    if (!digest) return { ok: false, problem: "the manifest references a blob without a valid digest" };
    const size = isObject(entry) && typeof entry.size === "number" && entry.size >= 0 ? entry.size : 0;
    blobs.push({ digest, size });
  }
  return finish(json, { kind: "image", mediaType, children: [], blobs });
}

function parseSchema1(json: Record<string, unknown>): ObjectResult {
  const blobs: BlobReference[] = [];
  for (const entry of Array.isArray(json.fsLayers) ? json.fsLayers : []) {
    const digest = isObject(entry) && typeof entry.blobSum === "string" ? parseDigest(entry.blobSum) : undefined;
    if (!digest) return { ok: false, problem: "the schema 1 manifest lists a layer without a valid blobSum" };
    if (!blobs.some((b) => b.digest === digest)) blobs.push({ digest, size: 0 });
  }
  const mediaType = Array.isArray(json.signatures) ? MediaType.dockerSchema1Signed : MediaType.dockerSchema1;
  return { ok: true, manifest: { kind: "schema1", mediaType, children: [], blobs } };
}

function finish(json: Record<string, unknown>, manifest: ParsedManifest): ObjectResult {
  if (json.subject !== undefined) {
    const subject = isObject(json.subject) && typeof json.subject.digest === "string"
      ? parseDigest(json.subject.digest)
      : undefined;
    if (!subject) return { ok: false, problem: "the manifest has a subject without a valid digest" };
    manifest.subject = subject;
  }
  if (typeof json.artifactType === "string") manifest.artifactType = json.artifactType;
  return { ok: true, manifest };
}

function formatPlatform(platform: unknown): string | undefined {
  if (!isObject(platform) || typeof platform.os !== "string" || typeof platform.architecture !== "string") {
    return undefined;
  }
  const variant = typeof platform.variant === "string" ? `/${platform.variant}` : "";
  return `${platform.os}/${platform.architecture}${variant}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
