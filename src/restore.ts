/**
 * The restore use case: put journaled manifests back by digest, children before the indexes that
 * list them and subjects before their referrers, until garbage collection has removed their
 * layers. No console and no process here: the CLI renders the events and the report.
 */
import { type Digest, parseDigest } from "./core/digest.js";
import { parseManifest } from "./core/manifest.js";
import type { RepositoryName } from "./core/repository-name.js";
import type { JournalEntry } from "./execute/journal-reader.js";
import { forEachBounded } from "./execute/pool.js";
import type { TokenProvider } from "./gitlab/ports.js";
import type { FetchedManifest } from "./registry/ports.js";
import { RegistryError } from "./registry/registry-error.js";

/** The registry operations restore needs; RegistryClient has them. */
export interface RestoreRegistry {
  /** undefined on 404: the manifest is not in the repository. */
  headManifest(name: RepositoryName, digest: Digest): Promise<{ mediaType: string } | undefined>;
  putManifest(name: RepositoryName, digest: Digest, manifest: FetchedManifest): Promise<void>;
}

export interface RestoreDependencies {
  /** Asking for `pull,push` (`pull` for a dry run): `authorize` then tells where pushing is allowed. */
  tokens: TokenProvider;
  registry: RestoreRegistry;
}

export interface RestoreOptions {
  dryRun: boolean;
  /** Only these repositories (all when absent). */
  repositories?: ReadonlySet<RepositoryName>;
  /** Only these manifests, plus the journaled manifests they need (all when absent). */
  digests?: ReadonlySet<Digest>;
  /** Requests in flight. Default 8. */
  concurrency?: number;
}

export type RestoreOutcomeKind = "restored" | "would-restore" | "already-present" | "failed";

/** What happened to one journaled manifest. */
export interface RestoreOutcome {
  repository: RepositoryName;
  digest: Digest;
  mediaType: string;
  kind: RestoreOutcomeKind;
  /** Why it could not be restored. */
  detail?: string;
}

export interface RestoreReport {
  dryRun: boolean;
  /** Journaled manifests selected by the filters (with what they need). */
  selected: number;
  outcomes: Record<RestoreOutcomeKind, number>;
  /** --digest values found nowhere in the journal (within the selected repositories). */
  notInJournal: Digest[];
  interrupted: boolean;
}

export interface RestoreEvents {
  outcome?(outcome: RestoreOutcome): void;
}

interface Item {
  entry: JournalEntry;
  /** Selected manifests of the same repository this one needs first (children, subject). */
  needs: Digest[];
  /** Manifests this one lists: a MANIFEST_BLOB_UNKNOWN naming one of them is not about layers. */
  children: Set<string>;
}

/** Restores (or, in a dry run, checks) the journaled manifests the options select. */
export async function runRestore(
  entries: readonly JournalEntry[],
  deps: RestoreDependencies,
  options: RestoreOptions,
  events: RestoreEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<RestoreReport> {
  const { selected, notInJournal } = selectEntries(entries, options);
  const report: RestoreReport = {
    dryRun: options.dryRun, selected: selected.length, notInJournal, interrupted: false,
    outcomes: { restored: 0, "would-restore": 0, "already-present": 0, failed: 0 },
  };
  if (selected.length === 0) return report;
  await deps.tokens.verifyCredentials();
  const allowed = await deps.tokens.authorize([...new Set(selected.map((entry) => entry.repository))]);
  const done = new Map<string, RestoreOutcomeKind>();
  const emit = (outcome: RestoreOutcome): void => {
    done.set(keyOf(outcome.repository, outcome.digest), outcome.kind);
    report.outcomes[outcome.kind]++;
    events.outcome?.(outcome);
  };
  for (const level of levels(selected)) {
    await forEachBounded(level, options.concurrency ?? 8, async (item) => {
      const base = { repository: item.entry.repository, digest: item.entry.digest, mediaType: item.entry.mediaType };
      const failedNeed = item.needs.find((need) => done.get(keyOf(item.entry.repository, need)) === "failed");
      if (failedNeed) return emit({ ...base, kind: "failed", detail: `it needs ${failedNeed}, which could not be restored` });
      if (allowed.get(item.entry.repository) !== true) return emit({ ...base, kind: "failed", detail: denied(options.dryRun) });
      emit({ ...base, ...(await restoreOne(item, deps.registry, options.dryRun)) });
    }, signal);
    if (signal.aborted) break;
  }
  report.interrupted = signal.aborted;
  return report;
}

/** The filtered entries plus, for --digest, the journaled children and subjects they need. */
function selectEntries(entries: readonly JournalEntry[], options: RestoreOptions): { selected: JournalEntry[]; notInJournal: Digest[] } {
  const inRepositories = entries.filter((entry) => !options.repositories || options.repositories.has(entry.repository));
  if (!options.digests) return { selected: inRepositories, notInJournal: [] };
  const byKey = new Map(inRepositories.map((entry) => [keyOf(entry.repository, entry.digest), entry]));
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
  inRepositories.filter((entry) => options.digests!.has(entry.digest)).forEach(add);
  const found = new Set(inRepositories.map((entry) => entry.digest));
  const notInJournal = [...options.digests].filter((digest) => !found.has(digest));
  return { selected: inRepositories.filter((entry) => chosen.has(keyOf(entry.repository, entry.digest))), notInJournal };
}

/**
 * Groups items so that everything an item needs is in an earlier group: images first, then the
 * indexes over them, then referrers of either. Digests are content hashes, so cycles cannot
 * occur; a malformed journal that had one would end up in the last group rather than hang.
 */
function levels(selected: readonly JournalEntry[]): Item[][] {
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
function references(entry: JournalEntry): { needs: Digest[]; children: Set<string> } {
  const parsed = parseManifest(entry.bytes);
  if (!parsed.ok) return { needs: [], children: new Set() };
  const children = parsed.manifest.children.map((child) => child.digest);
  const needs = parsed.manifest.subject ? [...children, parsed.manifest.subject] : children;
  return { needs: [...new Set(needs)], children: new Set(children) };
}

async function restoreOne(item: Item, registry: RestoreRegistry, dryRun: boolean): Promise<Pick<RestoreOutcome, "kind" | "detail">> {
  const { repository, digest, bytes, mediaType } = item.entry;
  try {
    // Putting back what is there would be harmless, but "already present" tells the admin more.
    if (await registry.headManifest(repository, digest)) return { kind: "already-present" };
    if (dryRun) return { kind: "would-restore" };
    await registry.putManifest(repository, digest, { bytes, mediaType });
    return { kind: "restored" };
  } catch (error) {
    return { kind: "failed", detail: describeFailure(error, item) };
  }
}

const MISSING_CODES = new Set(["MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"]);

/** Turns the registry's refusal into what the admin can act on. */
function describeFailure(error: unknown, item: Item): string {
  if (!(error instanceof RegistryError)) return error instanceof Error ? error.message : String(error);
  const missing = missingBlobs(error);
  if (!missing) return error.message;
  const lists = missing.filter((digest) => item.children.has(digest));
  if (lists.length > 0) {
    return `it lists ${lists.join(", ")}, which the repository no longer has (restore or push ${lists.length > 1 ? "them" : "it"} first)`;
  }
  const named = missing.length > 0 ? ` (the registry has no blob ${missing.join(", ")})` : "";
  return `its layers were already removed by garbage collection${named}, so it cannot be restored; push the image again`;
}

/**
 * The digests a MANIFEST_BLOB_UNKNOWN / BLOB_UNKNOWN (or a MANIFEST_INVALID about a blob) names,
 * `[]` when such an entry names none, undefined when the refusal is about something else.
 */
function missingBlobs(error: RegistryError): Digest[] | undefined {
  let about = false;
  const found = new Set<Digest>();
  for (const entry of error.entries) {
    const text = `${entry.message} ${JSON.stringify(entry.detail ?? "")}`;
    if (!MISSING_CODES.has(entry.code) && !(entry.code === "MANIFEST_INVALID" && /blob/i.test(text))) continue;
    about = true;
    for (const match of text.match(/sha(?:256:[a-f0-9]{64}|512:[a-f0-9]{128})/g) ?? []) {
      const digest = parseDigest(match);
      if (digest) found.add(digest);
    }
  }
  return about ? [...found] : undefined;
}

function denied(dryRun: boolean): string {
  return dryRun
    ? "the token GitLab issued lacks pull here, so it cannot even be checked: you need at least the Reporter role in its project"
    : "the token GitLab issued lacks push here: restoring needs the Developer role or higher in its project " +
      "(a personal access token needs the `api` or `write_registry` scope), and the repository must not be push-protected";
}

function keyOf(repository: RepositoryName, digest: Digest): string {
  return `${repository}@${digest}`;
}
