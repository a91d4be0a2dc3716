/** Reading `_manifests/tags/<tag>/current/link` of one repository. Tag `index/` history is ignored. */
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { StorageWarning, TagState, UnreadableTag } from "../core/types.js";
import { describeStorageError, type Listing } from "./driver.js";
import { tagCurrentLinkKey, tagsPrefix } from "./layout.js";
import { readLinkFile, rethrowUnavailable } from "./link-file.js";
import { mapLimit } from "./map-limit.js";
import type { ReadContext } from "./revisions.js";

/**
 * The `tag` of the UnreadableTag reported when the tags directory itself cannot be listed: any
 * manifest may then be tagged, which the plan must treat like any other unreadable tag.
 */
export const ALL_TAGS = "*";

type TagRead = { tag: string; digest?: Digest; pushedAt?: number; unreadable?: UnreadableTag };

/** Reads the tags of `name`, sorted by tag. Tags deleted meanwhile are absent, not errors. */
export async function readTagState(context: ReadContext, name: RepositoryName): Promise<TagState> {
  const { driver } = context;
  const prefix = tagsPrefix(name);
  let listing: Listing;
  try {
    listing = await driver.list(prefix);
  } catch (error) {
    rethrowUnavailable(error);
    // Not knowing the tags must never look like having none: that would make every manifest a candidate.
    const problem = `the tags directory could not be listed: ${describeStorageError(error)}`;
    return { tags: new Map(), unreadableTags: [{ tag: ALL_TAGS, path: driver.describe(prefix.slice(0, -1)), problem }] };
  }
  const reads = await mapLimit(listing.prefixes, context.concurrency, (tag) => readTag(context, name, tag));
  const state: TagState = { tags: new Map(), tagPushedAt: new Map(), unreadableTags: [] };
  // The registry follows a symbolic link where this reader does not: what it names is unknown here.
  for (const other of listing.others) {
    const path = driver.describe(`${prefix}${other.name}`);
    state.unreadableTags.push({ tag: other.name, path, problem: `it is a ${other.what}, which is not followed` });
  }
  for (const read of reads) {
    if (read.digest) state.tags.set(read.tag, read.digest);
    if (read.digest && read.pushedAt !== undefined) state.tagPushedAt!.set(read.tag, read.pushedAt);
    if (read.unreadable) state.unreadableTags.push(read.unreadable);
  }
  return state;
}

async function readTag(context: ReadContext, name: RepositoryName, tag: string): Promise<TagRead> {
  const key = tagCurrentLinkKey(name, tag);
  const link = await readLinkFile(context.driver, key);
  // A tag directory without current/link: the tag was deleted.
  if (link.kind === "missing") return { tag };
  if (link.kind === "bad") return { tag, unreadable: { tag, path: context.driver.describe(key), problem: `the link file ${link.problem}` } };
  return link.modifiedMs === undefined ? { tag, digest: link.digest } : { tag, digest: link.digest, pushedAt: link.modifiedMs };
}

/** One warning per unreadable tag, for the repository snapshot. */
export function tagWarnings(name: RepositoryName, unreadable: readonly UnreadableTag[]): StorageWarning[] {
  return unreadable.map((entry) => ({
    path: entry.path,
    message: entry.tag === ALL_TAGS
      ? `The tags of ${name} are unknown: ${entry.problem}.`
      : `Tag "${entry.tag}" of ${name} is unreadable: ${entry.problem}.`,
  }));
}
