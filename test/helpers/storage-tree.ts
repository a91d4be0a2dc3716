/**
 * Builds a distribution registry storage tree (filesystem driver layout, GITLAB.md §4) in a
 * directory, for tests and the benchmark generator. Paths come from src/storage/layout.ts, so
 * the builder and the reader agree by construction; raw writes allow corrupt states.
 */
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import fse from "fs-extra";
import { type Digest, parseDigest } from "../../src/core/digest.js";
import { type StorageFs, nodeStorageFs } from "../../src/storage/storage-fs.js";
import { MediaType } from "../../src/core/media-types.js";
import {
  type LockfileName,
  blobDataPath,
  lockfilePath,
  repositoriesDir,
  repositoryDir,
  revisionLinkPath,
  tagCurrentLinkPath,
  tagIndexLinkPath,
} from "../../src/storage/layout.js";

export * from "../../src/storage/layout.js";

/** A time for an mtime: ms since the epoch or a Date. */
export type Time = number | Date;

export interface PushOptions {
  /** Tags pointing at the manifest (current link plus one history entry each). */
  tags?: string[];
  /** mtime of the revision link (what the reader reports as `linkedAt`). */
  linkedAt?: Time;
}

/** The sha256 digest of some bytes. */
export function digestOf(content: string | Uint8Array): Digest {
  return parseDigest(`sha256:${createHash("sha256").update(content).digest("hex")}`)!;
}

/** A made-up digest, distinct per seed, for blobs that need not exist. */
export function fakeDigest(seed: string): Digest {
  return digestOf(`fake:${seed}`);
}

/** A minimal OCI image manifest whose config and layers are derived from `seed`. */
export function imageManifest(seed: string, options: { layers?: number; subject?: Digest } = {}): object {
  const layers = Array.from({ length: options.layers ?? 1 }, (_, i) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: fakeDigest(`${seed}:layer:${i}`),
    size: 1000 + i,
  }));
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: fakeDigest(`${seed}:config`), size: 100 },
    layers,
    ...(options.subject ? { subject: { mediaType: MediaType.ociManifest, digest: options.subject, size: 1 } } : {}),
  };
}

/** A minimal OCI index listing `children` (as linux/amd64, linux/arm64, …). */
export function indexManifest(children: Digest[]): object {
  const architectures = ["amd64", "arm64", "s390x", "ppc64le"];
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: children.map((digest, i) => ({
      mediaType: MediaType.ociManifest,
      digest,
      size: 1,
      platform: { os: "linux", architecture: architectures[i % architectures.length] },
    })),
  };
}

/** A storage root being built. All methods write; none of them is available to the tool itself. */
export class StorageTree {
  constructor(readonly root: string) {}

  /** Writes raw bytes at a path (absolute, or relative to the root), creating parents. */
  async writeRaw(path: string, content: string | Uint8Array, mtime?: Time): Promise<string> {
    const full = isAbsolute(path) ? path : join(this.root, path);
    await fse.outputFile(full, content);
    if (mtime !== undefined) {
      // utimes reads a plain number as seconds; a Date keeps the ms meaning of `Time`.
      const date = new Date(mtime);
      await fse.utimes(full, date, date);
    }
    return full;
  }

  /** Creates a directory (e.g. an empty `<hex>/` left behind by a deleted revision). */
  async mkdir(path: string): Promise<string> {
    const full = isAbsolute(path) ? path : join(this.root, path);
    await fse.ensureDir(full);
    return full;
  }

  /** Stores a blob under its sha256 digest. Objects are written as JSON. */
  async writeBlob(content: string | Uint8Array | object): Promise<Digest> {
    const bytes = serialize(content);
    const digest = digestOf(bytes);
    await this.writeRaw(blobDataPath(this.root, digest), bytes);
    return digest;
  }

  /** Creates an empty repository (a directory holding `_manifests`). */
  async createRepository(name: string): Promise<string> {
    return this.mkdir(join(repositoryDir(this.root, name), "_manifests", "revisions", "sha256"));
  }

  /** Writes the revision link of `digest` in `name`. */
  async linkRevision(name: string, digest: Digest, linkedAt?: Time): Promise<string> {
    return this.writeRaw(revisionLinkPath(this.root, name, digest), digest, linkedAt);
  }

  /** Points `tag` at `digest` (current link, plus a history entry like the registry writes). */
  async tag(name: string, tag: string, digest: Digest): Promise<void> {
    await this.writeRaw(tagCurrentLinkPath(this.root, name, tag), digest);
    await this.writeRaw(tagIndexLinkPath(this.root, name, tag, digest), digest);
  }

  /** Stores a manifest blob, links it as a revision of `name` and applies tags, like a push. */
  async push(name: string, manifest: string | Uint8Array | object, options: PushOptions = {}): Promise<Digest> {
    const digest = await this.writeBlob(manifest);
    await this.linkRevision(name, digest, options.linkedAt);
    for (const tag of options.tags ?? []) await this.tag(name, tag, digest);
    return digest;
  }

  /** Creates a GitLab registry lockfile. */
  async lockfile(name: LockfileName): Promise<string> {
    return this.writeRaw(lockfilePath(this.root, name), "");
  }

  /** Removes the whole tree. */
  async cleanup(): Promise<void> {
    await fse.remove(this.root);
  }
}

/**
 * Creates a storage root holding an empty `docker/registry/v2/repositories`, in a new temporary
 * directory unless `root` is given (the benchmark generator writes to a chosen place).
 */
export async function createStorageTree(options: { root?: string; bare?: boolean } = {}): Promise<StorageTree> {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), "registry-storage-")));
  if (!options.bare) await fse.ensureDir(repositoriesDir(root));
  return new StorageTree(root);
}

function serialize(content: string | Uint8Array | object): string | Uint8Array {
  if (typeof content === "string" || content instanceof Uint8Array) return content;
  return JSON.stringify(content);
}

/**
 * The real, read-only StorageFs, except that the given paths fail with the given error codes
 * (`EACCES` cannot be provoked with chmod when tests run as root). Every path touched is
 * appended to `calls`.
 */
export function failingFs(failures: Record<string, string>, calls: string[] = []): StorageFs {
  const check = (path: string): void => {
    calls.push(path);
    const code = failures[path];
    if (code) throw Object.assign(new Error(`${code}: simulated for ${path}`), { code });
  };
  return {
    listDir: async (path) => (check(path), nodeStorageFs.listDir(path)),
    readFile: async (path) => (check(path), nodeStorageFs.readFile(path)),
    readSmallFile: async (path, maxBytes) => (check(path), nodeStorageFs.readSmallFile(path, maxBytes)),
    stat: async (path) => (check(path), nodeStorageFs.stat(path)),
    probeDir: async (path) => (check(path), nodeStorageFs.probeDir(path)),
  };
}
