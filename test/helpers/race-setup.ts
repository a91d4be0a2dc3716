/**
 * The scene of a race test: three repositories, each with a tagged image and many untagged
 * manifests, and the candidates a racer will tag or index: the last ones in the order the
 * cleanup deletes (by digest), so they are still there when the racer acts.
 */
import { pushVariants } from "./bulk.js";
import type { Environment } from "./environment.js";
import { pushImage, type PushedManifest } from "./images.js";
import { ROOT } from "./environment.js";

export interface RaceSetup {
  /** Three fresh repositories under group/project. */
  repos: string[];
  /** Untagged manifests pushed, all repositories together. */
  total: number;
  /** In repos[0]: to be tagged mid-run. */
  toTag: PushedManifest[];
  /** In repos[1]: to be listed by a tagged index pushed mid-run. */
  toIndex: PushedManifest[];
  /** In repos[2]: to be listed by an untagged index pushed mid-run. */
  toIndexUntagged: PushedManifest[];
  /** Every untagged manifest, by repository. */
  pushed: Map<string, PushedManifest[]>;
}

let serial = 0;

/** Pushes `perRepository` untagged manifests (and one tagged image) into each of three new repositories. */
export async function pushBatch(env: Environment, perRepository: number, seed = 1000): Promise<RaceSetup> {
  const ctx = env.pushContext(ROOT);
  const prefix = `group/project/race${++serial}`;
  const repos = ["a", "b", "c"].map((suffix) => `${prefix}-${suffix}`);
  const pushed = new Map<string, PushedManifest[]>();
  for (const [index, repo] of repos.entries()) {
    await pushImage(ctx, repo, { seed: seed + index * 100_000, tag: "latest" });
    const variants = await pushVariants(ctx, repo, perRepository, seed + index * 100_000 + 1);
    pushed.set(repo, variants.sort((a, b) => (a.digest < b.digest ? -1 : 1)));
  }
  const last = (repo: string, count: number): PushedManifest[] => pushed.get(repo)!.slice(-count);
  return {
    repos, pushed, total: perRepository * repos.length,
    toTag: last(repos[0]!, 4), toIndex: last(repos[1]!, 2), toIndexUntagged: last(repos[2]!, 2),
  };
}
