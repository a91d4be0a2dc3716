/** Restore outcomes and report -> text for people, or one JSON document. No decisions here. */
import type { Digest } from "../core/digest.js";
import type { JournalProblem } from "../execute/journal-reader.js";
import type { RestoreOutcome, RestoreReport } from "../restore.js";

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

/** A journal line that was skipped. */
export function renderJournalProblem(journal: string, problem: JournalProblem): string {
  return `Warning: ${journal}:${problem.line}: ${problem.message}; this line was skipped.`;
}

/** A --digest that names nothing in the journal. */
export function renderNotInJournal(journal: string, digest: Digest): string {
  return `Warning: --digest ${digest} is not in ${journal} (in the repositories selected); nothing to restore for it.`;
}

/** The closing summary. */
export function renderRestoreSummary(report: RestoreReport, skippedLines: number): string[] {
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
  lines.push(...closing(report, skippedLines));
  return lines;
}

function closing(report: RestoreReport, skippedLines: number): string[] {
  const o = report.outcomes;
  const attempted = o.restored + o["would-restore"] + o["already-present"] + o.failed;
  if (report.interrupted) {
    return [`Interrupted after ${attempted} of ${report.selected}: run the same restore again to finish ` +
      "(what was restored then shows as already present)."];
  }
  const lines: string[] = [];
  if (o.failed > 0 || skippedLines > 0) lines.push("Some manifests were not restored: the reasons are above.");
  if (report.dryRun && o["would-restore"] > 0) lines.push("Run again without -n/--dry-run to restore them.");
  if (report.selected === 0) lines.push("Nothing to restore.");
  if (!report.dryRun && o.restored > 0) {
    lines.push("Restored manifests are untagged, as they were before the cleanup: the next cleanup deletes them " +
      "again unless they are tagged (or listed by a tagged index) by then.");
  }
  return lines;
}

/** The JSON document of `restore --json`. */
export function restoreJson(
  input: { version: string; journal: string; problems: JournalProblem[]; outcomes: RestoreOutcome[] },
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
    manifests: input.outcomes,
  }, null, 2);
}
