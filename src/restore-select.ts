/**
 * Which journaled records a restore takes, from the --repository, --digest and --tag filters, and
 * in what order: pure, over the verified entries of journal-reader.ts. Each selected record brings
 * the journaled manifests it needs (an index its children, a signature its subject, a tag its
 * manifest), so restoring a selection never leaves something pointing at nothing.
 */
import type { Digest } from "./core/digest.js";
import { parseManifest } from "./core/manifest.js";
import type { RepositoryName } from "./core/repository-name.js";
import type { JournalEntry } from "./execute/journal-reader.js";

/** The filters; each one that is set narrows the selection (all records when none is). */
export interface RestoreFilters {
  repositories?: ReadonlySet<RepositoryName>;
  digests?: ReadonlySet<Digest>;
  tags?: ReadonlySet<string>;
}

/** What the filters select, and which filter values matched nothing. */
export interface Selection {
  /** Manifest records (no `tag`), in journal order. */
  manifests: JournalEntry[];
  /** Tag records, in journal order. */
  tags: JournalEntry[];
  /** --digest values in no record of the selected repositories. */
  notInJournal: Digest[];
  /** --tag values in no tag record of the selected repositories. */
  tagsNotInJournal: string[];
}

/**
 * Without --digest and --tag: every record of the selected repositories. With them: the tag
 * records whose tag is in --tag and whose digest is in --digest (each that is given), and, when
 * --tag is not given, the manifest records of the --digest values; plus, for all of these, the
 * journaled manifests they need.
 */
export function selectRecords(entries: readonly JournalEntry[], filters: RestoreFilters): Selection {
  const { repositories, digests, tags } = filters;
  const inRepositories = entries.filter((entry) => !repositories || repositories.has(entry.repository));
  const manifests = inRepositories.filter((entry) => entry.tag === undefined);
  const tagRecords = inRepositories.filter((entry) => entry.tag !== undefined);
  const chosenTags = tagRecords.filter((entry) => (!tags || tags.has(entry.tag!)) && (!digests || digests.has(entry.digest)));
  const found = new Set(inRepositories.map((entry) => entry.digest));
  const foundTags = new Set(tagRecords.map((entry) => entry.tag!));
  const selection: Selection = {
    manifests,
    tags: chosenTags,
    notInJournal: digests ? [...digests].filter((digest) => !found.has(digest)) : [],
    tagsNotInJournal: tags ? [...tags].filter((tag) => !foundTags.has(tag)) : [],
  };
  if (!digests && !tags) return selection;
  const roots = tags ? chosenTags : [...manifests.filter((entry) => digests!.has(entry.digest)), ...chosenTags];
  const chosen = withNeeds(roots, new Map(manifests.map((entry) => [keyOf(entry.repository, entry.digest), entry])));
  selection.manifests = manifests.filter((entry) => chosen.has(keyOf(entry.repository, entry.digest)));
  return selection;
}

/** The keys of the manifest records `roots` need, recursively (a manifest root counts itself). */
function withNeeds(roots: readonly JournalEntry[], byKey: ReadonlyMap<string, JournalEntry>): Set<string> {
  const chosen = new Set<string>();
  const add = (entry: JournalEntry): void => {
    const key = keyOf(entry.repository, entry.digest);
    if (chosen.has(key)) return;
    chosen.add(key);
    for (const need of references(entry).needs) {
      const needed = byKey.get(keyOf(entry.repository, need));
      if (needed) add(needed);
    }
  };
  // A tag's own digest is a need like any other: its manifest record, if deleted too.
  roots.forEach(add);
  return chosen;
}

/** A manifest record to restore, with what it depends on. */
export interface Item {
  entry: JournalEntry;
  /** Selected manifests of the same repository this one needs first (children, subject). */
  needs: Digest[];
  /** Manifests this one lists: a MANIFEST_BLOB_UNKNOWN naming one of them is not about layers. */
  children: Set<string>;
}

/**
 * Groups items so that everything an item needs is in an earlier group: images first, then the
 * indexes over them, then referrers of either. Digests are content hashes, so cycles cannot
 * occur; a malformed journal that had one would end up in the last group rather than hang.
 */
export function levels(selected: readonly JournalEntry[]): Item[][] {
  const keys = new Set(selected.map((entry) => keyOf(entry.repository, entry.digest)));
  const items = new Map<string, Item>();
  for (const entry of selected) {
    const { needs, children } = references(entry);
    const present = needs.filter((need) => keys.has(keyOf(entry.repository, need)));
    items.set(keyOf(entry.repository, entry.digest), { entry, needs: present, children });
  }
  const depth = new Map<string, number>();
  const depthOf = (key: string, path: Set<string>): number => {
    const known = depth.get(key);
    if (known !== undefined) return known;
    if (path.has(key)) return 0;
    path.add(key);
    const item = items.get(key)!;
    const value = 1 + Math.max(-1, ...item.needs.map((need) => depthOf(keyOf(item.entry.repository, need), path)));
    path.delete(key);
    depth.set(key, value);
    return value;
  };
  const grouped: Item[][] = [];
  for (const [key, item] of items) (grouped[depthOf(key, new Set())] ??= []).push(item);
  return grouped.filter(Boolean);
}

/** What a manifest points at by digest: index children and the OCI subject. */
export function references(entry: JournalEntry): { needs: Digest[]; children: Set<string> } {
  const parsed = parseManifest(entry.bytes);
  if (!parsed.ok) return { needs: [], children: new Set() };
  const children = parsed.manifest.children.map((child) => child.digest);
  const needs = parsed.manifest.subject ? [...children, parsed.manifest.subject] : children;
  return { needs: [...new Set(needs)], children: new Set(children) };
}

/** `repository@digest`: one manifest in one repository. */
export function keyOf(repository: RepositoryName, digest: Digest): string {
  return `${repository}@${digest}`;
}
