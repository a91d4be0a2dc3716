/**
 * Pushes real images to the registry through its HTTP API: Docker schema 2 and OCI manifests,
 * OCI indexes and Docker manifest lists, OCI referrers. Content is derived from a seed, so the
 * same seed gives the same digests in every run, and different seeds give different manifests.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { MediaType } from "../../src/core/media-types.js";
import { putManifest, sha256Digest, uploadBlob, type PushContext } from "./registry-http.js";

export { createPushContext, type PushContext } from "./registry-http.js";

export type ImageFormat = "docker" | "oci";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An OCI / Docker content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

/** A manifest now stored in the registry. */
export interface PushedManifest {
  /** `sha256:<hex>` of `bytes`. */
  digest: string;
  mediaType: string;
  /** The manifest exactly as pushed. */
  bytes: Buffer;
  /** Config and layer blobs it references (empty for indexes). */
  blobDigests: string[];
  /** Total size of those blobs. */
  blobBytes: number;
  /** How an index or a referrer points at it. */
  descriptor: Descriptor;
}

export interface ImageOptions {
  /** Pushed by tag when set, else by digest (untagged). */
  tag?: string;
  seed: number;
  /** Number of layers; default 1. */
  layers?: number;
  /** Uncompressed bytes per layer; default 1024. */
  layerSize?: number;
  /** Default `docker`. */
  format?: ImageFormat;
  /** Default linux/amd64. */
  platform?: Platform;
}

export interface IndexOptions {
  tag?: string;
  /** `oci` for an OCI index, `docker` for a manifest list. Default `oci`. */
  format?: ImageFormat;
  /** Leave `mediaType` out of the JSON (allowed for OCI indexes; the Content-Type still says it). */
  omitMediaType?: boolean;
}

export const DEFAULT_PLATFORMS: Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64", variant: "v8" },
];

const LAYER_TYPES = {
  docker: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  oci: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;
const CONFIG_TYPES = {
  docker: "application/vnd.docker.container.image.v1+json",
  oci: "application/vnd.oci.image.config.v1+json",
} as const;
const EMPTY_CONFIG = "application/vnd.oci.empty.v1+json";
/** artifactType of cosign signatures pushed as OCI 1.1 referrers. */
export const SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";

/** Pushes config and layer blobs and a single-platform manifest. */
export async function pushImage(ctx: PushContext, repo: string, options: ImageOptions): Promise<PushedManifest> {
  const format = options.format ?? "docker";
  const platform = options.platform ?? DEFAULT_PLATFORMS[0]!;
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (let index = 0; index < (options.layers ?? 1); index++) {
    const raw = seededBytes(`layer:${options.seed}:${index}`, options.layerSize ?? 1024);
    // A real gzip stream (of random, hence incompressible bytes): clients may sniff compression.
    const compressed = gzipSync(raw, { level: 1 });
    diffIds.push(sha256Digest(raw));
    layers.push({ mediaType: LAYER_TYPES[format], digest: await uploadBlob(ctx, repo, compressed), size: compressed.length });
  }
  const config = json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: "2024-01-01T00:00:00Z",
    config: { Labels: { seed: String(options.seed) } },
    rootfs: { type: "layers", diff_ids: diffIds },
  });
  const configDescriptor = { mediaType: CONFIG_TYPES[format], digest: await uploadBlob(ctx, repo, config), size: config.length };
  const mediaType = format === "docker" ? MediaType.dockerManifest : MediaType.ociManifest;
  const bytes = json({ schemaVersion: 2, mediaType, config: configDescriptor, layers });
  const blobs = [configDescriptor, ...layers];
  return push(ctx, repo, options.tag, bytes, mediaType, blobs, platform);
}

/** Pushes an OCI index or a Docker manifest list over already pushed children. */
export async function pushIndex(
  ctx: PushContext,
  repo: string,
  children: Array<PushedManifest | Descriptor>,
  options: IndexOptions = {},
): Promise<PushedManifest> {
  const mediaType = (options.format ?? "oci") === "oci" ? MediaType.ociIndex : MediaType.dockerList;
  const manifests = children.map((child) => ("descriptor" in child ? child.descriptor : child));
  const bytes = json({ schemaVersion: 2, ...(options.omitMediaType ? {} : { mediaType }), manifests });
  return push(ctx, repo, options.tag, bytes, mediaType, []);
}

/** Pushes one untagged image per platform, then an index over them (tagged when `tag` is set). */
export async function pushMultiArch(
  ctx: PushContext,
  repo: string,
  options: IndexOptions & { seed: number; platforms?: Platform[]; layers?: number },
): Promise<{ index: PushedManifest; children: PushedManifest[] }> {
  const format = options.format ?? "oci";
  const children: PushedManifest[] = [];
  for (const [offset, platform] of (options.platforms ?? DEFAULT_PLATFORMS).entries()) {
    const seed = options.seed * 1000 + offset;
    children.push(await pushImage(ctx, repo, { seed, platform, format, layers: options.layers ?? 1 }));
  }
  return { index: await pushIndex(ctx, repo, children, { ...options, format }), children };
}

/** Pushes an OCI 1.1 referrer (a cosign-like signature) whose `subject` is the given manifest. */
export async function pushReferrer(
  ctx: PushContext,
  repo: string,
  subject: PushedManifest | Descriptor,
  options: { tag?: string; artifactType?: string; seed?: number } = {},
): Promise<PushedManifest> {
  const target = "descriptor" in subject ? subject.descriptor : subject;
  const { platform: _ignored, ...subjectDescriptor } = target;
  const empty = Buffer.from("{}");
  const config = { mediaType: EMPTY_CONFIG, digest: await uploadBlob(ctx, repo, empty), size: empty.length };
  const payload = json({ critical: { image: { "docker-manifest-digest": target.digest } }, seed: options.seed ?? 0 });
  const layer = {
    mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
    digest: await uploadBlob(ctx, repo, payload),
    size: payload.length,
  };
  const bytes = json({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: options.artifactType ?? SIGNATURE_ARTIFACT_TYPE,
    config,
    layers: [layer],
    subject: subjectDescriptor,
  });
  return push(ctx, repo, options.tag, bytes, MediaType.ociManifest, [config, layer]);
}

/** Points `tag` at an already pushed manifest (PUT of the same bytes by tag). */
export async function tagManifest(
  ctx: PushContext,
  repo: string,
  tag: string,
  manifest: Pick<PushedManifest, "bytes" | "mediaType">,
): Promise<string> {
  return putManifest(ctx, repo, tag, manifest.bytes, manifest.mediaType);
}

/** PUTs manifest bytes by their digest: a revision with no tag. */
export async function pushUntagged(ctx: PushContext, repo: string, bytes: Buffer, mediaType: string): Promise<string> {
  return putManifest(ctx, repo, sha256Digest(bytes), bytes, mediaType);
}

/**
 * Pushes `count` different images to the same tag, one after the other: all but the last end up
 * untagged, as with a CI job that rebuilds `latest`. Seeds are `seed`, `seed + 1`, …
 */
export async function pushTagHistory(
  ctx: PushContext,
  repo: string,
  tag: string,
  count: number,
  options: Omit<ImageOptions, "tag">,
): Promise<PushedManifest[]> {
  const pushed: PushedManifest[] = [];
  for (let index = 0; index < count; index++) {
    pushed.push(await pushImage(ctx, repo, { ...options, seed: options.seed + index, tag }));
  }
  return pushed;
}

async function push(
  ctx: PushContext,
  repo: string,
  tag: string | undefined,
  bytes: Buffer,
  mediaType: string,
  blobs: Descriptor[],
  platform?: Platform,
): Promise<PushedManifest> {
  const digest = sha256Digest(bytes);
  const stored = await putManifest(ctx, repo, tag ?? digest, bytes, mediaType);
  if (stored !== digest) throw new Error(`the registry stored ${repo} manifest as ${stored}, expected ${digest}`);
  const descriptor: Descriptor = { mediaType, digest, size: bytes.length, ...(platform ? { platform } : {}) };
  const blobDigests = [...new Set(blobs.map((blob) => blob.digest))];
  const blobBytes = blobs.reduce((sum, blob) => sum + blob.size, 0);
  return { digest, mediaType, bytes, blobDigests, blobBytes, descriptor };
}

/** Deterministic pseudo-random bytes: SHA-256 in counter mode over a label. */
function seededBytes(label: string, size: number): Buffer {
  const chunks: Buffer[] = [];
  for (let counter = 0; chunks.length * 32 < size; counter++) {
    chunks.push(createHash("sha256").update(`${label}:${counter}`).digest());
  }
  return Buffer.concat(chunks).subarray(0, size);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
