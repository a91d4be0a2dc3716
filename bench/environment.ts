/**
 * The benchmark's world: generated storage roots cached under .bench/ (keyed by size and seed),
 * cheap copies of them for the scenarios that delete, and the real registry plus the GitLab
 * stand-in serving such a copy.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { DEFAULT_USERS } from "../test/helpers/environment.js";
import type { StandinProject } from "../test/helpers/gitlab-permissions.js";
import { startGitlabStandin, type GitlabStandin } from "../test/helpers/gitlab-standin.js";
import { createPki } from "../test/helpers/pki.js";
import { startRegistry, type RegistryServer } from "../test/helpers/registry-server.js";
import { PACKAGE_ROOT } from "../test/helpers/run-cli.js";
import { generateStorage, type StorageSummary } from "./generator.js";
import { repositoryModels, type RepositoryModel, type SizeName } from "./model.js";

const run = promisify(execFile);
/** Bump when the generator's output changes, so stale caches are regenerated. */
const CACHE_VERSION = 1;

export const BENCH_DIR = resolve(process.env.BENCH_DIR ?? join(PACKAGE_ROOT, ".bench"));

/** A generated storage root and what it holds. */
export interface CachedStorage {
  root: string;
  summary: StorageSummary;
  /** Seconds spent generating it in this run; undefined when it came from the cache. */
  generatedIn?: number;
}

/** One project per repository path prefix, so that the admin's tokens grant delete everywhere. */
export function projectsOf(models: RepositoryModel[]): StandinProject[] {
  return [...new Set(models.map((model) => model.project))].map((path) => ({ path, members: {} }));
}

/** The storage of `size`/`seed` from .bench/storage, generated there first if missing or stale. */
export async function cachedStorage(size: SizeName, seed: number, jobs: number): Promise<CachedStorage> {
  const dir = join(BENCH_DIR, "storage", `${size}-seed${seed}`);
  const marker = join(dir, "summary.json");
  if (existsSync(marker)) {
    const saved = JSON.parse(await readFile(marker, "utf8")) as { version: number; summary: StorageSummary };
    if (saved.version === CACHE_VERSION) return { root: join(dir, "root"), summary: saved.summary };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const started = performance.now();
  const summary = await generateStorage(join(dir, "root"), size, seed, { jobs });
  const generatedIn = (performance.now() - started) / 1000;
  // Written last: a half-generated tree is never taken for a complete one.
  await writeFile(marker, JSON.stringify({ version: CACHE_VERSION, summary, generatedIn }));
  return { root: join(dir, "root"), summary, generatedIn };
}

/**
 * A private copy of a storage root that a registry may delete in: directories are new, files are
 * hard links. The registry only ever unlinks files and removes directories there (DELETE of a
 * manifest removes its revision link and tag directories), so the cached original stays intact.
 */
export async function copyStorage(source: string, target: string): Promise<void> {
  await rm(target, { recursive: true, force: true });
  await mkdir(join(target, ".."), { recursive: true });
  await run("cp", ["-al", source, target], { maxBuffer: 16 * 1024 * 1024 });
}

/** The stand-in and the real registry over a copy of `source`. */
export interface BenchServers {
  dir: string;
  gitlab: GitlabStandin;
  registry: RegistryServer;
  /** The storage root the registry serves (the copy). */
  storageRoot: string;
  stop(): Promise<void>;
}

/**
 * root (admin, password and `api` PAT) may delete in every generated repository. With `copy:
 * false` the registry serves `source` itself (through a symbolic link): only for runs that
 * delete nothing.
 */
export async function startServers(
  source: string, models: RepositoryModel[], options: { expirySeconds?: number; copy?: boolean } = {},
): Promise<BenchServers> {
  const dir = await mkdtemp(join(BENCH_DIR, "run-"));
  const pki = await createPki(dir);
  const gitlab = await startGitlabStandin({
    pki, issuer: "gitlab-issuer", users: DEFAULT_USERS, projects: projectsOf(models),
    ...(options.expirySeconds === undefined ? {} : { expirySeconds: options.expirySeconds }),
  });
  // BENCH_ACCESS_METADATA=1: every access entry with GitLab's project metadata, as a real instance
  // gives it (~100 bytes more each), so tokens hold as many repositories as they would there.
  if (process.env.BENCH_ACCESS_METADATA === "1") gitlab.accessMetadata = true;
  let storageRoot = join(dir, "registry", "storage");
  if (options.copy === false) {
    await mkdir(join(dir, "registry"));
    await symlink(source, storageRoot);
    storageRoot = source;
  } else {
    await copyStorage(source, storageRoot);
  }
  const registry = await startRegistry({
    realm: gitlab.realm, issuer: "gitlab-issuer", certPath: pki.certPath, dir: join(dir, "registry"),
  });
  return {
    dir, gitlab, registry, storageRoot,
    stop: async () => {
      await registry.stop();
      await gitlab.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The repository models of a size, for the stand-in's projects. */
export function modelsOf(size: SizeName, seed: number): RepositoryModel[] {
  return repositoryModels(size, seed);
}
