/**
 * Streaming discovery of repositories under `docker/registry/v2/repositories`, in plain string
 * order of their names, without collecting the tree first (thousands of repositories).
 */
import { type RepositoryName, explainInvalidName, parseRepositoryName } from "../core/repository-name.js";
import type { StorageWarning } from "../core/types.js";
import { describeStorageError, type Listing, type StorageDriver } from "./driver.js";
import { REPOSITORIES_PREFIX } from "./layout.js";
import { rethrowUnavailable } from "./link-file.js";

type Read = { listing: Listing } | { error: unknown };

interface WalkContext {
  driver: StorageDriver;
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

/** Streams every repository name in the storage, reporting skipped directories as warnings. */
export async function* walkRepositories(
  driver: StorageDriver,
  lookahead: number,
  onWarning: (warning: StorageWarning) => void,
): AsyncGenerator<RepositoryName> {
  const top = await list(driver, REPOSITORIES_PREFIX);
  if ("error" in top) {
    const path = driver.describe(REPOSITORIES_PREFIX.slice(0, -1));
    onWarning({ path, message: `The repositories directory could not be listed: ${describeStorageError(top.error)}.` });
    return;
  }
  yield* walkChildren({ driver, lookahead: Math.max(1, lookahead), onWarning }, "", REPOSITORIES_PREFIX, top.listing);
}

async function* walkChildren(
  context: WalkContext,
  parentName: string,
  parentPrefix: string,
  listing: Listing,
): AsyncGenerator<RepositoryName> {
  const { dirs, steps } = planSteps(context.driver, parentName, parentPrefix, listing);
  const listings = new ReadAhead(context, dirs.map((dir) => `${parentPrefix}${dir}/`));
  for (const step of steps) {
    if (step.kind === "warn") {
      context.onWarning(step.warning);
      continue;
    }
    const name = parentName === "" ? dirs[step.child]! : `${parentName}/${dirs[step.child]!}`;
    const prefix = `${parentPrefix}${dirs[step.child]!}/`;
    const read = await listings.get(step.child);
    if (step.kind === "self") {
      if ("error" in read) {
        const path = context.driver.describe(prefix.slice(0, -1));
        context.onWarning({ path, message: `This directory could not be listed and was skipped: ${describeStorageError(read.error)}.`, unread: true });
      } else if (isRepository(context, prefix, read.listing)) {
        yield name as RepositoryName;
      }
      continue;
    }
    listings.release(step.child);
    if (!("error" in read)) yield* walkChildren(context, name, prefix, read.listing);
  }
}

/** Decides, from names and types alone, which children to visit and which to warn about. */
function planSteps(driver: StorageDriver, parentName: string, parentPrefix: string, listing: Listing): { dirs: string[]; steps: Step[] } {
  const dirs: string[] = [];
  const steps: Step[] = [];
  // `_manifests`, `_layers`, `_uploads`: repository internals, never names.
  for (const other of listing.others) {
    if (other.name.startsWith("_")) continue;
    const message = `This is a ${other.what}; it was not followed (symbolic links can loop) and was skipped.`;
    steps.push({ key: other.name, kind: "warn", warning: { path: driver.describe(`${parentPrefix}${other.name}`), message } });
  }
  // Sorted, so that `child` indexes follow name order, which is the read-ahead order.
  for (const entry of listing.prefixes) {
    if (entry.startsWith("_")) continue;
    const path = driver.describe(`${parentPrefix}${entry}`);
    const name = parentName === "" ? entry : `${parentName}/${entry}`;
    const invalid = explainInvalidName(name);
    if (invalid !== undefined || parseRepositoryName(name) === undefined) {
      // Everything below an invalid element is invalid too: one warning for the whole subtree.
      const message = `"${name}" is not a valid repository name (${invalid ?? "rejected"}); it and everything under it were skipped.`;
      // Garbage collection walks in anyway and stops at the first repository it cannot name.
      steps.push({ key: entry, kind: "warn", warning: { path, message, gc: { kind: "repository-name", name } } });
      continue;
    }
    const child = dirs.push(entry) - 1;
    steps.push({ key: entry, kind: "self", child }, { key: `${entry}/`, kind: "subtree", child });
  }
  steps.sort((a, b) => compare(a.key, b.key));
  return { dirs, steps };
}

function isRepository(context: WalkContext, prefix: string, listing: Listing): boolean {
  const other = listing.others.find((entry) => entry.name === "_manifests");
  if (other) {
    const message = `_manifests is a ${other.what}; it was not followed and this repository was skipped.`;
    context.onWarning({ path: context.driver.describe(`${prefix}_manifests`), message });
    return false;
  }
  return listing.prefixes.includes("_manifests");
}

/** Reads the listings of upcoming sibling directories while earlier ones are being walked. */
class ReadAhead {
  private readonly started: (Promise<Read> | undefined)[] = [];

  constructor(
    private readonly context: WalkContext,
    private readonly prefixes: string[],
  ) {}

  get(index: number): Promise<Read> {
    const end = Math.min(this.prefixes.length, index + this.context.lookahead);
    for (let next = this.started.length; next < end; next++) {
      const read = list(this.context.driver, this.prefixes[next]!);
      // Observed here: a walk that stopped early must not leave an unhandled rejection behind.
      read.catch(() => undefined);
      this.started.push(read);
    }
    return this.started[index] ?? list(this.context.driver, this.prefixes[index]!);
  }

  /** Drops a listing once its subtree is walked, so memory stays proportional to the read-ahead. */
  release(index: number): void {
    this.started[index] = undefined;
  }
}

/** A listing or why there is none; the storage being unreachable as a whole is thrown when awaited. */
async function list(driver: StorageDriver, prefix: string): Promise<Read> {
  try {
    return { listing: await driver.list(prefix) };
  } catch (error) {
    rethrowUnavailable(error);
    return { error };
  }
}

/** Plain code-unit order (not locale order), so the result is the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
