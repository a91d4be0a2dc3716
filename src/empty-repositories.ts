/**
 * `--delete-empty-repositories`: after the run, each repository it left with no tag and no
 * manifest is deleted in GitLab (`DELETE /projects/:id/registry/repositories/:repository_id`,
 * GITLAB.md §13), so that GitLab stops listing it. GitLab answers 202 and deletes later, in a
 * worker that deletes every tag it finds first: so nothing is sent for a repository with a tag
 * left, on disk or in the live registry, with a kept manifest, or that the run could not judge.
 *
 * Two steps. The tracker listens to the run's events and decides, from the plan and the outcomes
 * alone, which repositories end up empty (pure: no I/O). The phase then checks each of them once
 * more (the registry's tags/list; in a real run the storage too), finds GitLab's id of it,
 * journals it and deletes it; a dry run stops before the journal.
 */
import type { CleanupEvents, Run } from "./cleanup.js";
import type { ManifestOutcome, RepositoryOutcome, SkippedRepository, TagOutcome } from "./core/report.js";
import { candidateProjectPaths, type RepositoryName } from "./core/repository-name.js";
import type { RepositoryPlan } from "./core/types.js";
import type { JournalWriter } from "./execute/journal.js";
import { forEachBounded } from "./execute/pool.js";
import type { RegistryRepositories, RegistryRepositoryRecord } from "./gitlab/ports.js";
import { RegistryError } from "./registry/registry-error.js";

/** Outcomes after which a manifest or tag is gone (or, in a dry run, would be). */
const GONE = new Set<string>(["deleted", "would-delete", "already-gone"]);
/** GitLab's `status` of a repository its worker is deleting already. */
const BEING_DELETED = new Set(["delete_scheduled", "delete_ongoing"]);
/** REST requests in flight at most: gentle on GitLab. */
const CONCURRENCY = 4;

/** What the run planned for a repository that may end up empty, and what became of it. */
interface Tracked {
  /** Tags retention deletes: every tag it has. */
  tags: ReadonlySet<string>;
  /** Candidates: every manifest it has. */
  candidates: number;
  tagsGone: number;
  manifestsGone: number;
  /** Set by any outcome that leaves something behind, or by a skip. */
  spoiled: boolean;
}

/**
 * Whether the plan deletes everything in the repository: no manifest kept (tagged, young, in a
 * kept index, a referrer, unreadable, or in an unsafe repository), every tag deleted by
 * retention, and nothing on disk that could not be read (warnings: unreadable tags, broken links).
 */
export function plannedEmpty(plan: RepositoryPlan): boolean {
  if (plan.kept.length > 0 || plan.warnings.length > 0) return false;
  const deleted = new Set((plan.tagDecisions?.deleted ?? []).map((tag) => tag.tag));
  return [...plan.tags.keys()].every((tag) => deleted.has(tag));
}

/** Follows the run's events to learn which repositories it empties. One per run. */
export class EmptyRepositoryTracker {
  readonly #tracked = new Map<RepositoryName, Tracked>();
  #asked = false;

  /** The run's events with the tracker listening first (and the confirmation counting repositories). */
  listen(events: CleanupEvents): CleanupEvents {
    return {
      ...events,
      planned: (plan) => (this.planned(plan), events.planned?.(plan)),
      outcome: (outcome) => (this.outcome(outcome), events.outcome?.(outcome)),
      tagOutcome: (outcome) => (this.tagOutcome(outcome), events.tagOutcome?.(outcome)),
      skipped: (skipped) => (this.skipped(skipped), events.skipped?.(skipped)),
      ...(events.confirm ? {
        confirm: (totals) => {
          this.#asked = true;
          return events.confirm!({ ...totals, emptyRepositories: this.mayEmpty() });
        },
      } : {}),
    };
  }

  /** True once the admin was asked to confirm the run (the question counted the repositories). */
  get asked(): boolean {
    return this.#asked;
  }

  planned(plan: RepositoryPlan): void {
    if (!plannedEmpty(plan)) return;
    this.#tracked.set(plan.name, {
      tags: new Set(plan.tags.keys()), candidates: plan.candidates.length, tagsGone: 0, manifestsGone: 0, spoiled: false,
    });
  }

  outcome(outcome: ManifestOutcome): void {
    const tracked = this.#tracked.get(outcome.repository);
    if (!tracked) return;
    if (GONE.has(outcome.kind)) tracked.manifestsGone++;
    else tracked.spoiled = true;
  }

  tagOutcome(outcome: TagOutcome): void {
    const tracked = this.#tracked.get(outcome.repository);
    if (!tracked) return;
    if (GONE.has(outcome.kind)) tracked.tagsGone++;
    else tracked.spoiled = true;
  }

  skipped(skipped: SkippedRepository): void {
    const tracked = this.#tracked.get(skipped.name);
    if (tracked) tracked.spoiled = true;
  }

  /**
   * The repositories the run left (a dry run: would leave) with no tag and no manifest, sorted:
   * every planned tag and candidate gone, and nothing else happened there (a failed delete, a
   * manifest kept on re-check, a protected tag, a skip). One interrupted before its end is not.
   */
  emptied(): RepositoryName[] {
    const names: RepositoryName[] = [];
    for (const [name, t] of this.#tracked) {
      if (!t.spoiled && t.tagsGone === t.tags.size && t.manifestsGone === t.candidates) names.push(name);
    }
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** How many repositories the run may still empty (before their deletes: for the confirmation). */
  mayEmpty(): number {
    let count = 0;
    for (const tracked of this.#tracked.values()) if (!tracked.spoiled) count++;
    return count;
  }

  /** The tags the run planned to delete in `name` (a dry run's registry still lists them). */
  plannedTags(name: RepositoryName): ReadonlySet<string> {
    return this.#tracked.get(name)?.tags ?? new Set();
  }
}

/** The phase's state: where GitLab's lists are cached, and the journal once opened. */
interface Phase {
  run: Run;
  tracker: EmptyRepositoryTracker;
  records: RegistryRepositories;
  lists: Map<string, Promise<RegistryRepositoryRecord[] | undefined>>;
  journal?: Promise<JournalWriter>;
}

/**
 * Deletes in GitLab the repositories the tracker found emptied (a dry run reports them), each
 * outcome into `run.report.emptyRepositories` and `run.events.repositoryOutcome`. Asks the
 * confirmation when the run did not ask it already. Never throws for one repository.
 */
export async function deleteEmptyRepositories(run: Run, tracker: EmptyRepositoryTracker): Promise<void> {
  const { deps, options, events, report } = run;
  const names = tracker.emptied();
  if (names.length === 0) return;
  if (!deps.registryRepositories) throw new Error("--delete-empty-repositories needs GitLab's REST API (a token with api)");
  const emit = (outcome: RepositoryOutcome): void => {
    report.emptyRepositories!.outcomes[outcome.kind]++;
    report.emptyRepositories!.repositories.push(outcome);
    events.repositoryOutcome?.(outcome);
  };
  // A token lacking delete is a role below Maintainer there, or no project at all (an orphan).
  const granted = await deps.tokens.authorize(names);
  const allowed = names.filter((name) => granted.get(name) === true);
  for (const name of names.filter((n) => granted.get(n) !== true)) {
    emit({ repository: name, kind: "no-permission", detail: "the registry token GitLab issued lacks delete here: your role in its project may not delete container images (Maintainer or higher may), or no project owns it" });
  }
  if (allowed.length === 0) return;
  if (!options.dryRun && !tracker.asked && events.confirm) {
    if (!(await events.confirm({ repositories: 0, candidates: 0, tags: 0, emptyRepositories: allowed.length }))) {
      report.cancelled = true;
      return;
    }
  }
  const phase: Phase = { run, tracker, records: deps.registryRepositories, lists: new Map() };
  try {
    await forEachBounded(allowed, CONCURRENCY, async (name) => emit(await settleRepository(name, phase)), run.signal);
  } finally {
    const journal = await phase.journal?.catch(() => undefined);
    await journal?.close();
    if (journal && journal.records > 0) report.journalPath = journal.path;
    report.emptyRepositories!.repositories.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));
  }
}

/** Finds GitLab's record, checks once more that nothing is left, journals, deletes. */
async function settleRepository(name: RepositoryName, phase: Phase): Promise<RepositoryOutcome> {
  const { run } = phase;
  let base: RepositoryOutcome = { repository: name, kind: "failed" };
  try {
    const found = await findRecord(name, phase);
    if (!found.record) {
      const detail = found.project === undefined
        ? "GitLab shows this token no project for it"
        : `GitLab lists no such repository in project ${found.project} (removed before: its directory stays in the storage)`;
      return { ...base, kind: "not-in-gitlab", ...(found.project ? { project: found.project } : {}), detail };
    }
    base = { ...base, project: found.project!, gitlabId: found.record.id };
    if (found.record.status !== null && BEING_DELETED.has(found.record.status)) return { ...base, kind: "already-removing" };
    const left = await whatIsLeft(name, phase);
    if (left !== undefined) return { ...base, kind: "kept", detail: left };
    if (run.options.dryRun) return { ...base, kind: "would-delete" };
    await journalOf(phase).then((journal) => journal.append({
      runId: run.deps.runId, time: new Date(run.deps.now()).toISOString(), repository: name, deletedRepository: true,
      project: found.project!, gitlabId: found.record!.id,
    }));
    const answer = await phase.records.deleteRegistryRepository(found.project!, found.record.id);
    if (answer === "gone") return { ...base, kind: "not-in-gitlab", detail: "GitLab removed it meanwhile" };
    return { ...base, kind: "deleted" };
  } catch (error) {
    return { ...base, kind: "failed", detail: messageOf(error) };
  }
}

/**
 * GitLab's record of the repository, in the first of its candidate project paths that GitLab
 * knows (the three longest prefixes, as GitLab resolves them: GITLAB.md §3). Lists are read once
 * per project and shared.
 */
async function findRecord(name: RepositoryName, phase: Phase): Promise<{ project?: string; record?: RegistryRepositoryRecord }> {
  for (const path of candidateProjectPaths(name)) {
    let list = phase.lists.get(path);
    if (!list) phase.lists.set(path, (list = phase.records.registryRepositories(path)));
    const records = await list;
    if (records === undefined) continue;
    return { project: path, ...spread("record", records.find((record) => record.path.toLowerCase() === name)) };
  }
  return {};
}

/**
 * Why the repository is not empty after all, or undefined. The live registry must list no tag
 * (a dry run: none but those retention would delete), so that -p cannot be some other registry's
 * storage and a push since is seen; in a real run the storage must hold no tag and no manifest.
 */
async function whatIsLeft(name: RepositoryName, phase: Phase): Promise<string | undefined> {
  const { deps, options } = phase.run;
  let live: string[];
  try {
    live = await deps.registry.listTags(name);
  } catch (error) {
    if (!(error instanceof RegistryError && error.status === 404 && error.code === "NAME_UNKNOWN")) {
      return `its tags could not be listed in the registry, so it cannot be judged: ${messageOf(error)}`;
    }
    live = [];
  }
  const planned = options.dryRun ? phase.tracker.plannedTags(name) : new Set<string>();
  const extra = live.filter((tag) => !planned.has(tag)).sort();
  if (extra.length > 0) return `the registry lists tag${extra.length > 1 ? "s" : ""} ${sample(extra)} in it (pushed during the run?)`;
  if (options.dryRun) return undefined;
  const now = await deps.storage.readRepository(name);
  if (now.tags.size > 0 || now.unreadableTags.length > 0) return "the storage holds a tag in it now (pushed during the run?)";
  if (now.revisions.length > 0) return `the storage holds ${now.revisions.length} manifest${now.revisions.length > 1 ? "s" : ""} in it now (pushed during the run, or kept on re-check)`;
  if (now.warnings.length > 0) return `the storage could not be read cleanly: ${now.warnings[0]!.message}`;
  return undefined;
}

/** Opens the run's journal on the first repository deleted (one with no record would remove its file). */
function journalOf(phase: Phase): Promise<JournalWriter> {
  const open = phase.run.deps.openJournal;
  if (!open) return Promise.resolve({ path: "", records: 0, append: async () => {}, close: async () => {} });
  phase.journal ??= open();
  return phase.journal;
}

function spread<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function sample(tags: string[]): string {
  const shown = tags.slice(0, 5).join(", ");
  return tags.length > 5 ? `${shown} and ${tags.length - 5} more` : shown;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
