/**
 * Many untagged manifests, fast: one shared layer per repository, and per manifest only a new
 * config blob and the manifest itself (two requests), a few in flight at once.
 */
import { MediaType } from "../../src/core/media-types.js";
import type { PushedManifest } from "./images.js";
import { putManifest, sha256Digest, uploadBlob, type PushContext } from "./registry-http.js";

const LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const CONFIG_TYPE = "application/vnd.docker.container.image.v1+json";

/**
 * Pushes `count` distinct Docker v2 manifests by digest (untagged) into `repo`, sharing one layer.
 * Seeds `seed`, `seed + 1`, … make the configs, hence the digests, differ and repeat across runs.
 */
export async function pushVariants(
  ctx: PushContext, repo: string, count: number, seed: number, concurrency = 8,
): Promise<PushedManifest[]> {
  const layerBytes = Buffer.from(`shared layer of ${repo} ${seed}`);
  const layer = { mediaType: LAYER_TYPE, digest: await uploadBlob(ctx, repo, layerBytes), size: layerBytes.length };
  const pushed: PushedManifest[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) pushed[index] = await pushVariant(ctx, repo, layer, seed + index);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return pushed;
}

async function pushVariant(
  ctx: PushContext, repo: string, layer: { mediaType: string; digest: string; size: number }, seed: number,
): Promise<PushedManifest> {
  const config = Buffer.from(JSON.stringify({
    architecture: "amd64", os: "linux", config: { Labels: { seed: String(seed) } },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }));
  const configDescriptor = { mediaType: CONFIG_TYPE, digest: await uploadBlob(ctx, repo, config), size: config.length };
  const mediaType = MediaType.dockerManifest;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: configDescriptor, layers: [layer] }));
  const digest = sha256Digest(bytes);
  await putManifest(ctx, repo, digest, bytes, mediaType);
  return {
    digest, mediaType, bytes, blobDigests: [configDescriptor.digest, layer.digest],
    blobBytes: config.length + layer.size, descriptor: { mediaType, digest, size: bytes.length },
  };
}
