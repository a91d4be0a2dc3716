/**
 * The shape of a synthetic registry, derived from a seed alone: which repositories exist (at
 * several depths), their tags, how often each tag was re-pushed and when, which are multi-arch
 * or signed, and which shared layers they use. Pure: the same seed and size give the same model.
 */
import { MediaType } from "../src/core/media-types.js";

export type SizeName = "XS" | "S" | "M" | "L";

/** Target counts per size. `tagHistory` writes `tags/<tag>/index/` links (nothing reads them). */
export interface SizePreset {
  repositories: number;
  manifests: number;
  tagHistory: boolean;
}

export const SIZES: Record<SizeName, SizePreset> = {
  XS: { repositories: 6, manifests: 60, tagHistory: true },
  S: { repositories: 20, manifests: 1_000, tagHistory: true },
  M: { repositories: 1_000, manifests: 100_000, tagHistory: true },
  // ~8 GB of directories and 4 KB files already; tag history would add ~1 GB per 125k links.
  L: { repositories: 10_000, manifests: 1_000_000, tagHistory: false },
};

/** Every push happened in the 60 days before this fixed instant, so outputs do not depend on today. */
export const BASE_TIME = Date.UTC(2025, 0, 1);
export const HISTORY_MS = 60 * 24 * 3600_000;

/** Shared blob pools: 8 base images of 3 layers, then application layers; configs apart. */
export const BASE_IMAGES = 8;
export const LAYER_POOL = 256;
export const CONFIG_POOL = 64;

export interface RepositoryModel {
  index: number;
  name: string;
  /** The GitLab project owning it (2 or 3 leading path elements). */
  project: string;
  multiArch: boolean;
  format: "oci" | "docker";
  /** Every push also gets a cosign-like OCI referrer (subject = the pushed image or index). */
  signed: boolean;
  tags: string[];
  /** Tag index and push time (ms) of every push, oldest first. */
  pushes: Array<{ tag: number; time: number }>;
  baseImage: number;
  appLayers: number[];
  configs: number[];
}

/** mulberry32: small, fast, good enough to shape test data. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["platform", "web", "api", "data", "infra", "mobile", "tools", "ml", "billing", "search", "auth", "ops"];
const IMAGES = ["app", "worker", "cache", "builder", "runner", "db-migrate", "docs", "proxy"];

/** The models of all repositories of a size, in generation order. */
export function repositoryModels(size: SizeName, seed: number): RepositoryModel[] {
  const preset = SIZES[size];
  const random = prng(seed ^ 0x9e3779b9);
  const weights = Array.from({ length: preset.repositories }, () => -Math.log(1 - random()));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((weight, index) => {
    const r = prng(seed * 1_000_003 + index);
    const multiArch = r() < 0.3;
    const signed = multiArch && r() < 0.3;
    const perPush = (multiArch ? 3 : 1) + (signed ? 1 : 0);
    const tags = tagNames(1 + Math.floor(r() ** 2 * 12), r);
    const manifests = Math.max(2, Math.round((preset.manifests * weight) / total));
    const pushCount = Math.max(tags.length, Math.round(manifests / perPush));
    return {
      index,
      ...names(index, r),
      multiArch,
      format: r() < 0.5 ? "oci" : "docker",
      signed,
      tags,
      pushes: pushTimes(pushCount, tags.length, r),
      baseImage: Math.floor(r() * BASE_IMAGES),
      appLayers: Array.from({ length: 4 }, () => BASE_IMAGES * 3 + Math.floor(r() * (LAYER_POOL - BASE_IMAGES * 3))),
      configs: [Math.floor(r() * CONFIG_POOL), Math.floor(r() * CONFIG_POOL)],
    };
  });
}

/** Depth 2 (group/project), 3 (group/project/image or group/sub/project) or 4 (group/sub/project/image). */
function names(index: number, r: () => number): { name: string; project: string } {
  const group = `${WORDS[Math.floor(r() * WORDS.length)]}-${Math.floor(r() * 40)}`;
  const project = `${WORDS[Math.floor(r() * WORDS.length)]}-svc-${index}`;
  const image = IMAGES[Math.floor(r() * IMAGES.length)]!;
  const depth = r();
  if (depth < 0.4) return { name: `${group}/${project}`, project: `${group}/${project}` };
  if (depth < 0.65) return { name: `${group}/${project}/${image}`, project: `${group}/${project}` };
  const sub = `team-${Math.floor(r() * 10)}`;
  if (depth < 0.8) return { name: `${group}/${sub}/${project}`, project: `${group}/${sub}/${project}` };
  return { name: `${group}/${sub}/${project}/${image}`, project: `${group}/${sub}/${project}` };
}

function tagNames(count: number, r: () => number): string[] {
  const tags = ["latest"];
  const fixed = ["main", "develop", "stable"];
  for (let i = 1; i < count; i++) {
    tags.push(i <= fixed.length ? fixed[i - 1]! : r() < 0.5 ? `v1.${i}.${Math.floor(r() * 10)}` : `mr-${100 + i}`);
  }
  return tags;
}

/** Each tag once first, then half of the re-pushes go to `latest`; times ascend over 60 days. */
function pushTimes(count: number, tagCount: number, r: () => number): Array<{ tag: number; time: number }> {
  const step = (HISTORY_MS - 3600_000) / count;
  return Array.from({ length: count }, (_, p) => {
    const tag = p < tagCount ? p : r() < 0.5 ? 0 : Math.floor(r() * tagCount);
    // Whole seconds: mtimes round-trip exactly through utimes.
    const time = Math.floor((BASE_TIME - HISTORY_MS + (p + r() * 0.9) * step) / 1000) * 1000;
    return { tag, time };
  });
}

/** Bytes of shared blob `kind` #i: tiny, distinct, valid JSON for configs. */
export function poolBlob(kind: "layer" | "config", i: number): Buffer {
  return Buffer.from(kind === "layer" ? `bench layer ${i}\n` : JSON.stringify({ architecture: "amd64", os: "linux", bench: i }));
}

export const EMPTY_CONFIG = Buffer.from("{}");
export const SIGNATURE_LAYER = Buffer.from("bench signature payload\n");

const TYPES = {
  oci: { manifest: MediaType.ociManifest, index: MediaType.ociIndex, config: "application/vnd.oci.image.config.v1+json", layer: "application/vnd.oci.image.layer.v1.tar+gzip" },
  docker: {
    manifest: MediaType.dockerManifest, index: MediaType.dockerList,
    config: "application/vnd.docker.container.image.v1+json", layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  },
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

/** A platform image of push `push`; the annotation makes every manifest distinct. */
export function imageJson(repo: RepositoryModel, push: number, arch: string, blob: (bytes: Buffer) => Descriptor): string {
  const types = TYPES[repo.format];
  const base = [0, 1, 2].map((i) => ({ ...blob(poolBlob("layer", repo.baseImage * 3 + i)), mediaType: types.layer }));
  const app = { ...blob(poolBlob("layer", repo.appLayers[push % repo.appLayers.length]!)), mediaType: types.layer };
  const config = { ...blob(poolBlob("config", repo.configs[push % 2]!)), mediaType: types.config };
  return JSON.stringify({
    schemaVersion: 2, mediaType: types.manifest, config, layers: [...base, app],
    annotations: { "org.opencontainers.image.revision": `${repo.name}#${push}/${arch}` },
  });
}

export function indexJson(repo: RepositoryModel, children: Descriptor[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: TYPES[repo.format].index, manifests: children });
}

/** A cosign-like signature referring to `subject` (OCI 1.1 `subject`). */
export function referrerJson(subject: Descriptor, blob: (bytes: Buffer) => Descriptor): string {
  const { platform: _ignored, ...target } = subject;
  return JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
    config: { ...blob(EMPTY_CONFIG), mediaType: "application/vnd.oci.empty.v1+json" },
    layers: [{ ...blob(SIGNATURE_LAYER), mediaType: "application/vnd.dev.cosign.simplesigning.v1+json" }],
    subject: target,
  });
}

export function manifestMediaType(repo: RepositoryModel, kind: "image" | "index"): string {
  return kind === "index" ? TYPES[repo.format].index : TYPES[repo.format].manifest;
}
