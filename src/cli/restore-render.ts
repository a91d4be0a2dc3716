/** Restore outcomes and report -> text for people, or one JSON document. No decisions here. */
import type { Digest } from "../core/digest.js";
import type { JournalProblem, JournalRepositoryEntry } from "../execute/journal-reader.js";
import type { RestoreOutcome, RestoreReport, TagRestoreOutcome } from "../restore.js";

/** One line per journaled manifest, worded like the cleanup's `Deleted image … in repository …`. */
export function renderRestoreOutcome(outcome: RestoreOutcome): string {
  const what = `image ${outcome.digest} in repository ${outcome.repository}`;
  switch (outcome.kind) {
    case "restored": return `Restored ${what}`;
    case "would-restore": return `Would restore ${what}`;
    case "already-present": return `Already present: ${what}`;
    case "failed": return `Could not restore ${what}: ${outcome.detail ?? "unknown error"}`;
  }
}

/** One line per journaled tag: `Restored tag v1 (sha256:…) in repository group/app`. */
export function renderTagOutcome(outcome: TagRestoreOutcome): string {
  const what = `tag ${outcome.tag} (${outcome.digest}) in repository ${outcome.repository}`;
  switch (outcome.kind) {
    case "restored": return `Restored ${what}`;
    case "would-restore": return `Would restore ${what}`;
    case "already-present": return `Already present: ${what}`;
    case "skipped":
      return `Skipped ${what}: it points at ${outcome.current ?? "another manifest"} now (pushed again since), so it was left alone`;
    case "failed": return `Could not restore ${what}: ${outcome.detail ?? "unknown error"}`;
  }
}

/** A journal line that was skipped. */
export function renderJournalProblem(journal: string, problem: JournalProblem): string {
  return `Warning: ${journal}:${problem.line}: ${problem.message}; this line was skipped.`;
}

/** A repository `--delete-empty-repositories` deleted in GitLab: nothing restores GitLab's record. */
export function renderRepositoryRecord(entry: JournalRepositoryEntry): string {
  return `Cannot restore GitLab's record of repository ${entry.repository} (project ${entry.project}, id ${entry.gitlabId}, ` +
    "deleted by --delete-empty-repositories): GitLab removed it for good; restoring manifests or tags there, or any push, " +
    "makes GitLab record the repository anew (a new id, empty until then).";
}

/** A --digest that names nothing in the journal. */
export function renderNotInJournal(journal: string, digest: Digest): string {
  return `Warning: --digest ${digest} is not in ${journal} (in the repositories selected); nothing to restore for it.`;
}

/** A --tag that names no tag record. */
export function renderTagNotInJournal(journal: string, tag: string): string {
  return `Warning: --tag ${tag} is not in ${journal} (in the repositories selected); nothing to restore for it.`;
}

/** The closing summary; the tag rows only when the journal has tags selected or --tag was given. */
export function renderRestoreSummary(report: RestoreReport, skippedLines: number, repositoryRecords = 0): string[] {
  const lines = [report.dryRun ? "Summary (dry run: nothing was restored)" : "Summary"];
  const row = (label: string, value: number): void => void lines.push(`  ${label.padEnd(38)}${value}`);
  const o = report.outcomes;
  row("Manifests selected from the journal", report.selected);
  if (report.dryRun) row("Would restore", o["would-restore"]);
  else row("Restored", o.restored);
  row("Already present", o["already-present"]);
  if (o.failed > 0) row("Could not restore", o.failed);
  if (skippedLines > 0) row("Journal lines skipped (unusable)", skippedLines);
  if (report.notInJournal.length > 0) row("--digest values not in the journal", report.notInJournal.length);
  if (report.selectedTags > 0 || report.tagsNotInJournal.length > 0) tagRows(report, row);
  if (repositoryRecords > 0) row("GitLab records (cannot be restored)", repositoryRecords);
  lines.push(...closing(report, skippedLines));
  return lines;
}

function tagRows(report: RestoreReport, row: (label: string, value: number) => void): void {
  const t = report.tagOutcomes;
  row("Tags selected from the journal", report.selectedTags);
  if (report.dryRun) row("Tags that would be restored", t["would-restore"]);
  else row("Tags restored", t.restored);
  row("Tags already present", t["already-present"]);
  if (t.skipped > 0) row("Tags skipped (pushed again since)", t.skipped);
  if (t.failed > 0) row("Tags not restored", t.failed);
  if (report.tagsNotInJournal.length > 0) row("--tag values not in the journal", report.tagsNotInJournal.length);
}

function closing(report: RestoreReport, skippedLines: number): string[] {
  const o = report.outcomes;
  const t = report.tagOutcomes;
  const total = (counts: Record<string, number>): number => Object.values(counts).reduce((sum, n) => sum + n, 0);
  if (report.interrupted) {
    return [`Interrupted after ${total(o) + total(t)} of ${report.selected + report.selectedTags}: run the same restore ` +
      "again to finish (what was restored then shows as already present)."];
  }
  const lines: string[] = [];
  if (o.failed > 0 || t.failed > 0 || skippedLines > 0) lines.push("Some manifests or tags were not restored: the reasons are above.");
  if (t.skipped > 0) {
    lines.push("Tags left alone were pushed again after the cleanup: they point at what was pushed then. To point one back " +
      "anyway, delete it and run this restore again.");
  }
  if (report.dryRun && o["would-restore"] + t["would-restore"] > 0) lines.push("Run again without -n/--dry-run to restore them.");
  if (report.selected + report.selectedTags === 0) lines.push("Nothing to restore.");
  if (!report.dryRun && o.restored > 0) {
    const which = report.selectedTags > 0 ? "Restored manifests that no tag above was put back on" : "Restored manifests";
    lines.push(`${which} are untagged, as they were before the cleanup: the next cleanup deletes them again unless ` +
      "they are tagged (or listed by a tagged index) by then.");
  }
  return lines;
}

/** The JSON document of `restore --json`. */
export function restoreJson(
  input: {
    version: string; journal: string; problems: JournalProblem[]; outcomes: RestoreOutcome[]; tagOutcomes: TagRestoreOutcome[];
    repositoryRecords?: JournalRepositoryEntry[];
  },
  report: RestoreReport,
): string {
  return JSON.stringify({
    tool: "gitlab-registry-cleanup",
    version: input.version,
    command: "restore",
    journal: input.journal,
    dryRun: report.dryRun,
    interrupted: report.interrupted,
    selected: report.selected,
    totals: report.outcomes,
    skippedLines: input.problems,
    notInJournal: report.notInJournal,
    selectedTags: report.selectedTags,
    tagTotals: report.tagOutcomes,
    tagsNotInJournal: report.tagsNotInJournal,
    manifests: input.outcomes,
    tags: input.tagOutcomes,
    // GitLab records of repositories the cleanup deleted: never restored (restore cannot bring them back).
    repositoriesNotRestored: (input.repositoryRecords ?? []).map(({ repository, project, gitlabId, runId, time }) => ({
      repository, project, gitlabId, runId, time,
    })),
  }, null, 2);
}
