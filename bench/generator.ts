/**
 * Writes a synthetic registry straight to disk in the distribution filesystem layout, as the real
 * registry would have after the pushes the model describes: manifest blobs, revision links (with
 * their push time as mtime), tag current and index links, `_layers` links, shared tiny layers.
 * Synchronous writes: one process keeps one core busy; `jobs` forks more processes.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { blobDataPath, repositoriesDir, repositoryDir, revisionsDir, tagsDir } from "../src/storage/layout.js";
import type { Digest } from "../src/core/digest.js";
import { MediaType } from "../src/core/media-types.js";
import {
  BASE_TIME, CONFIG_POOL, EMPTY_CONFIG, HISTORY_MS, LAYER_POOL, SIGNATURE_LAYER, SIZES,
  type Descriptor, type RepositoryModel, type SizeName,
  imageJson, indexJson, manifestMediaType, poolBlob, referrerJson, repositoryModels,
} from "./model.js";

/** Candidates pushed before this instant are the "older half" the deletion scenario removes. */
export const HALF_TIME = BASE_TIME - HISTORY_MS / 2;

/** What was written, and what a correct plan must find in it. */
export interface StorageSummary {
  size: SizeName;
  seed: number;
  repositories: number;
  manifests: number;
  tags: number;
  /** Kept with no grace period: tagged, children of tagged indexes, referrers of tagged manifests. */
  kept: number;
  candidates: number;
  /** Candidates pushed before HALF_TIME (kept by a grace period reaching back to HALF_TIME). */
  olderHalf: number;
  repositoriesWithCandidates: number;
  /** Digests of `latest` per repository index, for spot checks against the registry. */
  sample: Array<{ name: string; tag: string; digest: string; mediaType: string }>;
}

type Counts = Omit<StorageSummary, "size" | "seed" | "sample"> & { sample: StorageSummary["sample"] };

/** Generates `size` from `seed` under `root` (created if needed). `jobs` > 1 forks writer processes. */
export async function generateStorage(root: string, size: SizeName, seed: number, options: { jobs?: number } = {}): Promise<StorageSummary> {
  writeSharedBlobs(root);
  const jobs = Math.max(1, options.jobs ?? 1);
  const parts = jobs === 1 ? [writeShare(root, size, seed, 0, 1)] : await Promise.all(
    Array.from({ length: jobs }, (_, job) => forkShare(root, size, seed, job, jobs)),
  );
  const total = parts.reduce(merge);
  total.sample.sort((a, b) => (a.name < b.name ? -1 : 1));
  return { size, seed, ...total, sample: total.sample.slice(0, 20) };
}

/** Writes the repositories whose index is `job` modulo `jobs`. */
export function writeShare(root: string, size: SizeName, seed: number, job: number, jobs: number): Counts {
  const counts: Counts = {
    repositories: 0, manifests: 0, tags: 0, kept: 0, candidates: 0, olderHalf: 0, repositoriesWithCandidates: 0, sample: [],
  };
  const descriptors = sharedDescriptors();
  for (const repo of repositoryModels(size, seed)) {
    if (repo.index % jobs === job) writeRepository(root, repo, SIZES[size].tagHistory, descriptors, counts);
  }
  return counts;
}

function writeRepository(root: string, repo: RepositoryModel, tagHistory: boolean, shared: Map<string, Descriptor>, counts: Counts): void {
  const usedBlobs = new Set<string>();
  const blob = (bytes: Buffer): Descriptor => {
    const descriptor = shared.get(bytes.toString("latin1"))!;
    usedBlobs.add(descriptor.digest);
    return { ...descriptor };
  };
  const revisions = join(revisionsDir(root, repo.name), "sha256");
  mkdirSync(revisions, { recursive: true });
  const pushed: Array<{ top: Descriptor; all: Digest[]; time: number }> = [];
  const link = (json: string, mediaType: string, time: number): Descriptor => {
    const descriptor = writeBlob(root, Buffer.from(json), mediaType);
    const dir = join(revisions, hexOf(descriptor.digest));
    mkdirSync(dir);
    writeFileSync(join(dir, "link"), descriptor.digest);
    utimesSync(join(dir, "link"), time / 1000, time / 1000);
    return descriptor;
  };
  repo.pushes.forEach(({ time }, push) => {
    const all: Digest[] = [];
    let top: Descriptor;
    if (repo.multiArch) {
      const children = ["amd64", "arm64"].map((arch) => {
        const child = link(imageJson(repo, push, arch, blob), manifestMediaType(repo, "image"), time);
        all.push(child.digest as Digest);
        return { ...child, platform: { os: "linux", architecture: arch } };
      });
      top = link(indexJson(repo, children), manifestMediaType(repo, "index"), time);
    } else {
      top = link(imageJson(repo, push, "amd64", blob), manifestMediaType(repo, "image"), time);
    }
    all.push(top.digest as Digest);
    if (repo.signed) all.push(link(referrerJson(top, blob), MediaType.ociManifest, time).digest as Digest);
    pushed.push({ top, all, time });
  });
  writeTags(root, repo, pushed, tagHistory, counts);
  const layers = join(repositoryDir(root, repo.name), "_layers", "sha256");
  for (const digest of usedBlobs) {
    mkdirSync(join(layers, hexOf(digest)), { recursive: true });
    writeFileSync(join(layers, hexOf(digest), "link"), digest);
  }
  count(repo, pushed, counts);
}

/** The current link of each tag names its last push; the index holds every push of it. */
function writeTags(root: string, repo: RepositoryModel, pushed: Array<{ top: Descriptor }>, tagHistory: boolean, counts: Counts): void {
  const dir = tagsDir(root, repo.name);
  repo.tags.forEach((tag, t) => {
    const mine = repo.pushes.flatMap((push, p) => (push.tag === t ? [pushed[p]!.top] : []));
    const current = mine[mine.length - 1]!;
    mkdirSync(join(dir, tag, "current"), { recursive: true });
    writeFileSync(join(dir, tag, "current", "link"), current.digest);
    if (tagHistory) {
      for (const { digest } of mine) {
        mkdirSync(join(dir, tag, "index", "sha256", hexOf(digest)), { recursive: true });
        writeFileSync(join(dir, tag, "index", "sha256", hexOf(digest), "link"), digest);
      }
    }
    if (t === 0) counts.sample.push({ name: repo.name, tag, digest: current.digest, mediaType: current.mediaType });
  });
}

/** What a correct plan decides, from the model alone (the test checks the reader against it). */
function count(repo: RepositoryModel, pushed: Array<{ all: Digest[]; time: number }>, counts: Counts): void {
  const tagged = new Set(repo.tags.map((_, t) => repo.pushes.findLastIndex((push) => push.tag === t)));
  let candidates = 0;
  pushed.forEach(({ all, time }, p) => {
    counts.manifests += all.length;
    if (tagged.has(p)) {
      counts.kept += all.length;
      return;
    }
    candidates += all.length;
    if (time < HALF_TIME) counts.olderHalf += all.length;
  });
  counts.repositories++;
  counts.tags += repo.tags.length;
  counts.candidates += candidates;
  if (candidates > 0) counts.repositoriesWithCandidates++;
}

function writeBlob(root: string, bytes: Buffer, mediaType: string): Descriptor {
  const hex = createHash("sha256").update(bytes).digest("hex");
  const digest = `sha256:${hex}` as Digest;
  const path = blobDataPath(root, digest);
  try {
    mkdirSync(path.slice(0, -"/data".length));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  writeFileSync(path, bytes);
  return { mediaType, digest, size: bytes.length };
}

/** The 256 blob prefix directories and the shared layer and config blobs every repository uses. */
function writeSharedBlobs(root: string): void {
  mkdirSync(repositoriesDir(root), { recursive: true });
  for (let i = 0; i < 256; i++) {
    mkdirSync(join(root, "docker", "registry", "v2", "blobs", "sha256", i.toString(16).padStart(2, "0")), { recursive: true });
  }
  for (const bytes of sharedBlobs()) writeBlob(root, bytes, "");
}

function sharedBlobs(): Buffer[] {
  const layers = Array.from({ length: LAYER_POOL }, (_, i) => poolBlob("layer", i));
  const configs = Array.from({ length: CONFIG_POOL }, (_, i) => poolBlob("config", i));
  return [...layers, ...configs, EMPTY_CONFIG, SIGNATURE_LAYER];
}

function sharedDescriptors(): Map<string, Descriptor> {
  return new Map(sharedBlobs().map((bytes) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    return [bytes.toString("latin1"), { mediaType: "", digest, size: bytes.length }];
  }));
}

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}

function merge(a: Counts, b: Counts): Counts {
  return {
    repositories: a.repositories + b.repositories, manifests: a.manifests + b.manifests, tags: a.tags + b.tags,
    kept: a.kept + b.kept, candidates: a.candidates + b.candidates, olderHalf: a.olderHalf + b.olderHalf,
    repositoriesWithCandidates: a.repositoriesWithCandidates + b.repositoriesWithCandidates, sample: [...a.sample, ...b.sample],
  };
}

async function forkShare(root: string, size: SizeName, seed: number, job: number, jobs: number): Promise<Counts> {
  const args = [fileURLToPath(import.meta.url), "--share", root, size, String(seed), String(job), String(jobs)];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as Counts;
}

// A forked writer: `node generator.js --share <root> <size> <seed> <job> <jobs>`.
if (process.argv[2] === "--share" && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [root, size, seed, job, jobs] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(writeShare(root!, size as SizeName, Number(seed), Number(job), Number(jobs))));
}
