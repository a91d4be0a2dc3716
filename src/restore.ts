/**
 * The restore use case: put journaled manifests back by digest, children before the indexes that
 * list them and subjects before their referrers, then point journaled tags at them again, until
 * garbage collection has removed their layers. A tag pushed again since is never moved. No
 * console and no process here: the CLI renders the events and the report.
 */
import { type Digest, parseDigest } from "./core/digest.js";
import type { RepositoryName } from "./core/repository-name.js";
import type { JournalEntry } from "./execute/journal-reader.js";
import { forEachBounded } from "./execute/pool.js";
import type { TokenProvider } from "./gitlab/ports.js";
import type { FetchedManifest } from "./registry/ports.js";
import { RegistryError } from "./registry/registry-error.js";
import { type Item, keyOf, levels, references, selectRecords, type RestoreFilters } from "./restore-select.js";

/** The registry operations restore needs; RegistryClient has them. */
export interface RestoreRegistry {
  /** undefined on 404: the manifest is not in the repository. */
  headManifest(name: RepositoryName, digest: Digest): Promise<{ mediaType: string } | undefined>;
  putManifest(name: RepositoryName, digest: Digest, manifest: FetchedManifest): Promise<void>;
  /** The digest `tag` points at now; undefined when there is no such tag. */
  tagDigest(name: RepositoryName, tag: string): Promise<Digest | undefined>;
  /** PUT of the manifest by tag: points `tag` at `digest` (storing the manifest if missing). */
  putTag(name: RepositoryName, tag: string, digest: Digest, manifest: FetchedManifest): Promise<void>;
}

export interface RestoreDependencies {
  /** Asking for `pull,push` (`pull` for a dry run): `authorize` then tells where pushing is allowed. */
  tokens: TokenProvider;
  registry: RestoreRegistry;
}

/** `repositories`, `digests` and `tags` narrow the selection (restore-select.ts). */
export interface RestoreOptions extends RestoreFilters {
  dryRun: boolean;
  /** Requests in flight. Default 8. */
  concurrency?: number;
}

export type RestoreOutcomeKind = "restored" | "would-restore" | "already-present" | "failed";
/** `skipped`: the tag exists and points at another manifest now (pushed again since): left alone. */
export type TagRestoreOutcomeKind = RestoreOutcomeKind | "skipped";

/** What happened to one journaled manifest. */
export interface RestoreOutcome {
  repository: RepositoryName;
  digest: Digest;
  mediaType: string;
  kind: RestoreOutcomeKind;
  /** Why it could not be restored. */
  detail?: string;
}

/** What happened to one journaled tag. `digest` is the manifest it pointed at when it was deleted. */
export interface TagRestoreOutcome {
  repository: RepositoryName;
  tag: string;
  digest: Digest;
  mediaType: string;
  kind: TagRestoreOutcomeKind;
  /** `skipped`: the digest the tag points at now. */
  current?: Digest;
  /** Why it could not be restored. */
  detail?: string;
}

export interface RestoreReport {
  dryRun: boolean;
  /** Journaled manifests selected by the filters (with what they need). */
  selected: number;
  outcomes: Record<RestoreOutcomeKind, number>;
  /** Journaled tags selected by the filters. */
  selectedTags: number;
  tagOutcomes: Record<TagRestoreOutcomeKind, number>;
  /** --digest values found nowhere in the journal (within the selected repositories). */
  notInJournal: Digest[];
  /** --tag values found in no tag record (within the selected repositories). */
  tagsNotInJournal: string[];
  interrupted: boolean;
}

export interface RestoreEvents {
  outcome?(outcome: RestoreOutcome): void;
  tagOutcome?(outcome: TagRestoreOutcome): void;
}

/** One restore in progress: what every step reads, and where outcomes go. */
interface Run {
  deps: RestoreDependencies;
  options: RestoreOptions;
  events: RestoreEvents;
  signal: AbortSignal;
  report: RestoreReport;
  /** Repositories where the token allows pushing (pulling, in a dry run). */
  allowed: Map<RepositoryName, boolean>;
  /** Outcomes of the manifests so far, by repository@digest. */
  done: Map<string, RestoreOutcomeKind>;
}

/**
 * Restores (or, in a dry run, checks) the journaled manifests the options select, then their
 * journaled tags: a tag after every manifest, so that its manifest and whatever that lists are
 * back first.
 */
export async function runRestore(
  entries: readonly JournalEntry[],
  deps: RestoreDependencies,
  options: RestoreOptions,
  events: RestoreEvents = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<RestoreReport> {
  const { manifests, tags, notInJournal, tagsNotInJournal } = selectRecords(entries, options);
  const report: RestoreReport = {
    dryRun: options.dryRun, selected: manifests.length, selectedTags: tags.length, notInJournal, tagsNotInJournal,
    interrupted: false,
    outcomes: { restored: 0, "would-restore": 0, "already-present": 0, failed: 0 },
    tagOutcomes: { restored: 0, "would-restore": 0, "already-present": 0, skipped: 0, failed: 0 },
  };
  if (manifests.length + tags.length === 0) return report;
  await deps.tokens.verifyCredentials();
  const allowed = await deps.tokens.authorize([...new Set([...manifests, ...tags].map((entry) => entry.repository))]);
  const run: Run = { deps, options, events, signal, report, allowed, done: new Map() };
  await restoreManifests(manifests, run);
  if (!signal.aborted) await restoreTags(tags, run);
  report.interrupted = signal.aborted;
  return report;
}

async function restoreManifests(manifests: readonly JournalEntry[], run: Run): Promise<void> {
  const { options, report } = run;
  const emit = (outcome: RestoreOutcome): void => {
    run.done.set(keyOf(outcome.repository, outcome.digest), outcome.kind);
    report.outcomes[outcome.kind]++;
    run.events.outcome?.(outcome);
  };
  for (const level of levels(manifests)) {
    await forEachBounded(level, options.concurrency ?? 8, async (item) => {
      const { repository, digest, mediaType } = item.entry;
      const blocked = blocker(run, repository, item.needs);
      emit({ repository, digest, mediaType, ...(blocked ?? (await restoreOne(item, run.deps.registry, options.dryRun))) });
    }, run.signal);
    if (run.signal.aborted) return;
  }
}

/**
 * Tags on different manifests in parallel, the tags of one manifest one after another. A PUT by
 * tag rewrites the manifest's revision link, which distribution's filesystem driver truncates and
 * writes in place, and a GET of another tag on that manifest meanwhile reads it half-written and
 * answers 500 UNKNOWN (seen in the e2e tests under load).
 */
async function restoreTags(tags: readonly JournalEntry[], run: Run): Promise<void> {
  const byManifest = new Map<string, JournalEntry[]>();
  for (const entry of tags) {
    const key = keyOf(entry.repository, entry.digest);
    const same = byManifest.get(key);
    if (same) same.push(entry);
    else byManifest.set(key, [entry]);
  }
  await forEachBounded([...byManifest.values()], run.options.concurrency ?? 8, async (entries) => {
    for (const entry of entries) {
      if (run.signal.aborted) return;
      const { repository, tag, digest, mediaType } = entry;
      const { needs, children } = references(entry);
      // Its own manifest first: a tag record's digest is a need like the manifests it lists.
      const blocked = blocker(run, repository, [digest, ...needs]);
      const outcome: TagRestoreOutcome = {
        repository, tag: tag!, digest, mediaType,
        ...(blocked ?? (await restoreTag(entry, children, run.deps.registry, run.options.dryRun))),
      };
      run.report.tagOutcomes[outcome.kind]++;
      run.events.tagOutcome?.(outcome);
    }
  }, run.signal);
}

/** Why nothing may be sent for a record: a manifest it needs failed, or the token lacks the right. */
function blocker(run: Run, repository: RepositoryName, needs: readonly Digest[]): { kind: "failed"; detail: string } | undefined {
  const failedNeed = needs.find((need) => run.done.get(keyOf(repository, need)) === "failed");
  if (failedNeed) return { kind: "failed", detail: `it needs ${failedNeed}, which could not be restored` };
  if (run.allowed.get(repository) !== true) return { kind: "failed", detail: denied(run.options.dryRun) };
  return undefined;
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
    return { kind: "failed", detail: describeFailure(error, item.children) };
  }
}

/**
 * Points the tag at its journaled manifest unless the tag exists: on that manifest it is already
 * present, on another it was pushed again since the cleanup and is left alone. A push of the tag
 * between this check and the PUT would be overwritten: a window of one request.
 */
async function restoreTag(
  entry: JournalEntry, children: Set<string>, registry: RestoreRegistry, dryRun: boolean,
): Promise<Pick<TagRestoreOutcome, "kind" | "current" | "detail">> {
  const { repository, tag, digest, bytes, mediaType } = entry;
  try {
    const current = await registry.tagDigest(repository, tag!);
    if (current === digest) return { kind: "already-present" };
    if (current !== undefined) return { kind: "skipped", current };
    if (dryRun) return { kind: "would-restore" };
    await registry.putTag(repository, tag!, digest, { bytes, mediaType });
    return { kind: "restored" };
  } catch (error) {
    return { kind: "failed", detail: describeFailure(error, children) };
  }
}

const MISSING_CODES = new Set(["MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"]);

/** Turns the registry's refusal into what the admin can act on. */
function describeFailure(error: unknown, children: ReadonlySet<string>): string {
  if (!(error instanceof RegistryError)) return error instanceof Error ? error.message : String(error);
  const missing = missingBlobs(error);
  if (!missing) return error.message;
  const lists = missing.filter((digest) => children.has(digest));
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
