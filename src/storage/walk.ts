/**
 * Streaming discovery of repositories under `docker/registry/v2/repositories`, in plain string
 * order of their names, without collecting the tree first (thousands of repositories).
 */
import { join } from "node:path";
import { type RepositoryName, explainInvalidName, parseRepositoryName } from "../core/repository-name.js";
import type { StorageWarning } from "../core/types.js";
import { repositoriesDir } from "./layout.js";
import { type DirEntry, type StorageFs, describeFsError, isMissing } from "./storage-fs.js";

type Listing = { entries: DirEntry[] } | { error: unknown };

interface WalkContext {
  fs: StorageFs;
  /** How many sibling directories are read ahead of the one being processed. */
  lookahead: number;
  onWarning: (warning: StorageWarning) => void;
}

/**
 * One step of the walk at a directory. A child `c` contributes up to two steps: `self` (is `c` a
 * repository?) sorted by `c`, and `subtree` sorted by `c/`. Sorting those keys together yields the
 * names in string order even when a repository is also a parent: `a/b` < `a/b-x` < `a/b/c`.
 */
type Step =
  | { key: string; kind: "self" | "subtree"; child: number }
  | { key: string; kind: "warn"; warning: StorageWarning };

/** Streams every repository name under `root`, reporting skipped directories as warnings. */
export async function* walkRepositories(
  root: string,
  fs: StorageFs,
  lookahead: number,
  onWarning: (warning: StorageWarning) => void,
): AsyncGenerator<RepositoryName> {
  const top = repositoriesDir(root);
  const listing = await list(fs, top);
  if ("error" in listing) {
    onWarning({ path: top, message: `The repositories directory could not be listed: ${describeFsError(listing.error)}.` });
    return;
  }
  yield* walkChildren({ fs, lookahead: Math.max(1, lookahead), onWarning }, "", top, listing.entries);
}

async function* walkChildren(
  context: WalkContext,
  parentName: string,
  parentPath: string,
  entries: DirEntry[],
): AsyncGenerator<RepositoryName> {
  const { dirs, steps } = planSteps(parentName, parentPath, entries);
  const listings = new ReadAhead(context, dirs.map((dir) => join(parentPath, dir)));
  for (const step of steps) {
    if (step.kind === "warn") {
      context.onWarning(step.warning);
      continue;
    }
    const name = parentName === "" ? dirs[step.child]! : `${parentName}/${dirs[step.child]!}`;
    const path = join(parentPath, dirs[step.child]!);
    const listing = await listings.get(step.child);
    if (step.kind === "self") {
      if ("error" in listing) {
        // Vanished since its parent was listed (deleted while scanning): simply absent.
        if (isMissing(listing.error)) continue;
        context.onWarning({ path, message: `This directory could not be listed and was skipped: ${describeFsError(listing.error)}.` });
      } else if (isRepository(context, path, listing.entries)) {
        yield name as RepositoryName;
      }
      continue;
    }
    listings.release(step.child);
    if (!("error" in listing)) yield* walkChildren(context, name, path, listing.entries);
  }
}

/** Decides, from names and types alone, which children to visit and which to warn about. */
function planSteps(parentName: string, parentPath: string, entries: DirEntry[]): { dirs: string[]; steps: Step[] } {
  const dirs: string[] = [];
  const steps: Step[] = [];
  // Sorted first so that `child` indexes follow name order, which is the read-ahead order.
  for (const entry of [...entries].sort((a, b) => compare(a.name, b.name))) {
    // `_manifests`, `_layers`, `_uploads`: repository internals, never names.
    if (entry.name.startsWith("_")) continue;
    const path = join(parentPath, entry.name);
    if (entry.isSymbolicLink()) {
      const message = "This is a symbolic link; it was not followed (symbolic links can loop) and was skipped.";
      steps.push({ key: entry.name, kind: "warn", warning: { path, message } });
      continue;
    }
    if (!entry.isDirectory()) continue;
    const name = parentName === "" ? entry.name : `${parentName}/${entry.name}`;
    const invalid = explainInvalidName(name);
    if (invalid !== undefined || parseRepositoryName(name) === undefined) {
      // Everything below an invalid element is invalid too: one warning for the whole subtree.
      const message = `"${name}" is not a valid repository name (${invalid ?? "rejected"}); it and everything under it were skipped.`;
      steps.push({ key: entry.name, kind: "warn", warning: { path, message } });
      continue;
    }
    const child = dirs.push(entry.name) - 1;
    steps.push({ key: entry.name, kind: "self", child }, { key: `${entry.name}/`, kind: "subtree", child });
  }
  steps.sort((a, b) => compare(a.key, b.key));
  return { dirs, steps };
}

function isRepository(context: WalkContext, path: string, entries: DirEntry[]): boolean {
  const manifests = entries.find((entry) => entry.name === "_manifests");
  if (manifests?.isSymbolicLink()) {
    const message = "_manifests is a symbolic link; it was not followed and this repository was skipped.";
    context.onWarning({ path: join(path, "_manifests"), message });
    return false;
  }
  return manifests?.isDirectory() === true;
}

/** Reads the listings of upcoming sibling directories while earlier ones are being walked. */
class ReadAhead {
  private readonly started: (Promise<Listing> | undefined)[] = [];

  constructor(
    private readonly context: WalkContext,
    private readonly paths: string[],
  ) {}

  get(index: number): Promise<Listing> {
    const end = Math.min(this.paths.length, index + this.context.lookahead);
    for (let next = this.started.length; next < end; next++) {
      this.started.push(list(this.context.fs, this.paths[next]!));
    }
    return this.started[index] ?? list(this.context.fs, this.paths[index]!);
  }

  /** Drops a listing once its subtree is walked, so memory stays proportional to the read-ahead. */
  release(index: number): void {
    this.started[index] = undefined;
  }
}

async function list(fs: StorageFs, path: string): Promise<Listing> {
  try {
    return { entries: await fs.listDir(path) };
  } catch (error) {
    return { error };
  }
}

/** Plain code-unit order (not locale order), so the result is the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
