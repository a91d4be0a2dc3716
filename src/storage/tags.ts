/** Reading `_manifests/tags/<tag>/current/link` of one repository. Tag `index/` history is ignored. */
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { StorageWarning, StrayTagEntry, TagState, UnreadableTag } from "../core/types.js";
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

type TagRead = { tag: string; digest?: Digest; pushedAt?: number; unreadable?: UnreadableTag; stray?: StrayTagEntry };

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
  const state: TagState = { tags: new Map(), tagPushedAt: new Map(), unreadableTags: [], strayEntries: [] };
  // The registry's tags/list names every entry here, files too; no GET resolves a file.
  for (const object of listing.objects) {
    const entry = object.key.slice(object.key.lastIndexOf("/") + 1);
    state.strayEntries!.push({ name: entry, path: driver.describe(object.key), what: "file" });
  }
  // The registry follows a symbolic link where this reader does not: what it names is unknown here.
  for (const other of listing.others) {
    const path = driver.describe(`${prefix}${other.name}`);
    state.unreadableTags.push({ tag: other.name, path, problem: `it is a ${other.what}, which is not followed` });
  }
  for (const read of reads) {
    if (read.digest) state.tags.set(read.tag, read.digest);
    if (read.digest && read.pushedAt !== undefined) state.tagPushedAt!.set(read.tag, read.pushedAt);
    if (read.unreadable) state.unreadableTags.push(read.unreadable);
    if (read.stray) state.strayEntries!.push(read.stray);
  }
  state.strayEntries!.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return state;
}

async function readTag(context: ReadContext, name: RepositoryName, tag: string): Promise<TagRead> {
  const key = tagCurrentLinkKey(name, tag);
  const link = await readLinkFile(context.driver, key);
  if (link.kind === "missing") return { tag, ...(await linklessDirectory(context, name, tag)) };
  if (link.kind === "bad") {
    const unreadable: UnreadableTag = { tag, path: context.driver.describe(key), problem: `the link file ${link.problem}` };
    if (link.notDigest) unreadable.notDigest = link.notDigest;
    return { tag, unreadable };
  }
  return link.modifiedMs === undefined ? { tag, digest: link.digest } : { tag, digest: link.digest, pushedAt: link.modifiedMs };
}

/**
 * A tag directory without current/link (an interrupted push, a half-deleted tag) when it still
 * holds something; gone altogether, the tag was deleted while being read, which is no stray.
 */
async function linklessDirectory(context: ReadContext, name: RepositoryName, tag: string): Promise<{ stray?: StrayTagEntry }> {
  const prefix = `${tagsPrefix(name)}${tag}/`;
  try {
    const listing = await context.driver.list(prefix);
    if (listing.prefixes.length + listing.objects.length + listing.others.length === 0) return {};
  } catch (error) {
    rethrowUnavailable(error);
    // Not listable: say what is known, that it has no current/link.
  }
  return { stray: { name: tag, path: context.driver.describe(prefix.slice(0, -1)), what: "no-current-link" } };
}

/** One warning per unreadable tag and per stray entry of `_manifests/tags`, for the repository snapshot. */
export function tagWarnings(name: RepositoryName, unreadable: readonly UnreadableTag[], stray: readonly StrayTagEntry[] = []): StorageWarning[] {
  const warnings = unreadable.map((entry): StorageWarning => {
    const warning: StorageWarning = {
      path: entry.path,
      message: entry.tag === ALL_TAGS
        ? `The tags of ${name} are unknown: ${entry.problem}.`
        : `Tag "${entry.tag}" of ${name} is unreadable: ${entry.problem}.`,
    };
    if (entry.notDigest) warning.gc = { kind: "tag-link", repository: name, tag: entry.tag, ...entry.notDigest };
    return warning;
  });
  for (const entry of stray) {
    warnings.push(entry.what === "file"
      ? { path: entry.path, message: `${describeStray(name, entry)}.`, gc: { kind: "tags-file", repository: name, entry: entry.name } }
      : { path: entry.path, message: `${describeStray(name, entry)}.` });
  }
  return warnings;
}

/** Why a stray entry is not a tag, though the registry lists it as one. */
export function describeStray(name: RepositoryName, entry: StrayTagEntry): string {
  return entry.what === "file"
    ? `"${entry.name}" in the tags of ${name} is a file, not a tag directory: the registry lists it as a tag but cannot resolve it`
    : `Tag directory "${entry.name}" of ${name} has no current/link (an interrupted push or a half-deleted tag): ` +
      "the registry lists it as a tag but cannot resolve it";
}
