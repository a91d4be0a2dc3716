/** Reading `_manifests/tags/<tag>/current/link` of one repository. Tag `index/` history is ignored. */
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { StorageWarning, TagState, UnreadableTag } from "../core/types.js";
import { tagCurrentLinkPath, tagsDir } from "./layout.js";
import { readLinkFile } from "./link-file.js";
import { mapLimit } from "./map-limit.js";
import type { ReadContext } from "./revisions.js";
import { describeFsError, isMissing } from "./storage-fs.js";

/**
 * The `tag` of the UnreadableTag reported when the tags directory itself cannot be listed: any
 * manifest may then be tagged, which the plan must treat like any other unreadable tag.
 */
export const ALL_TAGS = "*";

type TagRead = { tag: string; digest?: Digest; unreadable?: UnreadableTag };

/** Reads the tags of `name`, sorted by tag. Tags deleted meanwhile are absent, not errors. */
export async function readTagState(context: ReadContext, name: RepositoryName): Promise<TagState> {
  const dir = tagsDir(context.root, name);
  let tags: string[];
  try {
    tags = (await context.fs.listDir(dir)).map((entry) => entry.name).sort();
  } catch (error) {
    if (isMissing(error)) return { tags: new Map(), unreadableTags: [] };
    // Not knowing the tags must never look like having none: that would make every manifest a candidate.
    const problem = `the tags directory could not be listed: ${describeFsError(error)}`;
    return { tags: new Map(), unreadableTags: [{ tag: ALL_TAGS, path: dir, problem }] };
  }
  const reads = await mapLimit(tags, context.concurrency, (tag) => readTag(context, name, tag));
  const state: TagState = { tags: new Map(), unreadableTags: [] };
  for (const read of reads) {
    if (read.digest) state.tags.set(read.tag, read.digest);
    if (read.unreadable) state.unreadableTags.push(read.unreadable);
  }
  return state;
}

async function readTag(context: ReadContext, name: RepositoryName, tag: string): Promise<TagRead> {
  const path = tagCurrentLinkPath(context.root, name, tag);
  const link = await readLinkFile(context.fs, path);
  // A tag directory without current/link: the tag was deleted.
  if (link.kind === "missing") return { tag };
  if (link.kind === "bad") return { tag, unreadable: { tag, path, problem: `the link file ${link.problem}` } };
  return { tag, digest: link.digest };
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

