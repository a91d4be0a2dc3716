/**
 * The cross-check before a repository's deletes: the live registry must list exactly the tags the
 * storage holds. Where it lists entries of `_manifests/tags` that are no tags on disk (a tag folder
 * without current/link, a stray file), the cause and its fix are named instead of suspecting -p.
 */
import type { SkippedRepository } from "../core/report.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { StrayTagEntry } from "../core/types.js";
import type { RegistryApi } from "../registry/ports.js";
import { DeletesDisabledError, RegistryError } from "../registry/registry-error.js";
import type { StorageReader } from "../storage/storage-reader.js";
import { describeStray } from "../storage/tags.js";

/** What the cross-check reads. */
export interface CrossCheckContext {
  storage: StorageReader;
  registry: RegistryApi;
}

/**
 * The live registry must list exactly the tags the storage holds: otherwise -p is probably not
 * this registry's storage, and deleting what the disk calls untagged could remove live images.
 */
export async function crossCheck(
  name: RepositoryName, tagsOnDisk: readonly string[], ctx: CrossCheckContext,
  /** The registry's tags, where they were asked for ahead (a dry run: tags-ahead.ts); else listed now. */
  listed?: Promise<string[]>,
): Promise<Pick<SkippedRepository, "reason" | "detail"> | undefined> {
  let live: string[];
  try {
    live = await (listed ?? ctx.registry.listTags(name));
  } catch (error) {
    if (error instanceof DeletesDisabledError) throw error;
    if (!(tagsOnDisk.length === 0 && isUnknownName(error))) {
      return { reason: "cross-check-failed", detail: `could not list its tags in the registry: ${messageOf(error)}` };
    }
    // Never tagged: no tags directory, and the registry answers tags/list with 404 NAME_UNKNOWN.
    // With no tags on disk either, the two agree (and a DELETE the registry cannot place is a 404).
    live = [];
  }
  const liveSet = new Set(live);
  const diskSet = new Set(tagsOnDisk);
  const missing = tagsOnDisk.filter((tag) => !liveSet.has(tag));
  const extra = live.filter((tag) => !diskSet.has(tag));
  if (missing.length === 0 && extra.length === 0) return undefined;
  // The registry lists every entry of _manifests/tags; what the storage knows is no tag is named for what it is.
  const stray = extra.length > 0 ? await strayTagEntries(name, ctx) : new Map<string, StrayTagEntry>();
  const explained = extra.filter((tag) => stray.has(tag)).map((tag) => stray.get(tag)!);
  const unexplained = extra.filter((tag) => !stray.has(tag));
  const causes = explained.map((entry) => `${describeStray(name, entry)} (${entry.path}; ${strayFix(entry)})`);
  if (missing.length === 0 && unexplained.length === 0) {
    return { reason: "tags-damaged", detail: `${causes.join("; ")}. Then run again: until then nothing here is deleted` };
  }
  const parts = [];
  if (missing.length > 0) parts.push(`on disk but not in the registry: ${sample(missing)}`);
  if (unexplained.length > 0) parts.push(`in the registry but not on disk: ${sample(unexplained)}`);
  return {
    reason: "tags-mismatch",
    detail: `the registry's tags differ from the storage (${parts.join("; ")}); is -p the storage of this registry?` +
      (causes.length > 0 ? ` Also: ${causes.join("; ")}` : ""),
  };
}

/** The entries of the repository's `_manifests/tags` that are no tags, by name; none when they cannot be read. */
async function strayTagEntries(name: RepositoryName, ctx: CrossCheckContext): Promise<Map<string, StrayTagEntry>> {
  try {
    const state = await ctx.storage.readTags(name);
    return new Map((state.strayEntries ?? []).map((entry) => [entry.name, entry]));
  } catch {
    return new Map();
  }
}

/** What removes a stray entry: nothing the registry can resolve is lost. */
function strayFix(entry: StrayTagEntry): string {
  const quoted = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
  const s3 = entry.path.startsWith("s3://");
  return entry.what === "file"
    ? `move it out of the storage: ${s3 ? "aws s3 mv" : "mv"} ${quoted(entry.path)} <a place outside the storage>`
    : `remove it: ${s3 ? `aws s3 rm --recursive ${quoted(`${entry.path}/`)}` : `rm -r ${quoted(entry.path)}`} ` +
      "(it holds only the tag's history, so no tag is lost), or push the tag again";
}

function isUnknownName(error: unknown): boolean {
  return error instanceof RegistryError && error.status === 404 && error.code === "NAME_UNKNOWN";
}

function sample(tags: string[]): string {
  const shown = tags.slice(0, 5).join(", ");
  return tags.length > 5 ? `${shown} and ${tags.length - 5} more` : shown;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
