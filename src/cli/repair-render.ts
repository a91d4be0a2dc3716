/** Repairs (deleted manifests a push during the run needed) -> text: a line each, summary rows, a note. */
import type { CleanupReport, RepairOutcome } from "../core/report.js";

type Row = (label: string, value: number | string) => void;

/** `Restored sha256:… in group/project: tag v2 was pushed onto it during the cleanup`. */
export function renderRepair(outcome: RepairOutcome): string {
  const detail = outcome.detail ? ` (${outcome.detail})` : "";
  switch (outcome.kind) {
    case "restored":
      return `Restored ${outcome.digest} in ${outcome.repository}: ${outcome.reason}${detail}`;
    case "failed":
      return `Could not restore ${outcome.digest} in ${outcome.repository}, although ${outcome.reason}: ${outcome.detail ?? "unknown error"}`;
    case "unresolved":
      return `Check ${outcome.repository}: ${outcome.reason}${detail}`;
  }
}

/** Summary rows, only when something was repaired or needed to be. */
export function repairRows(report: CleanupReport, row: Row): void {
  const count = (kind: RepairOutcome["kind"]): number => report.repairs.filter((r) => r.kind === kind).length;
  if (count("restored") > 0) row("Restored (pushed onto during the run)", count("restored"));
  if (count("failed") > 0) row("Could not be restored", count("failed"));
  if (count("unresolved") > 0) row("Tags to check (gone during the run)", count("unresolved"));
}

/** What to do when a repair could not be made. */
export function repairNotes(report: CleanupReport): string[] {
  const failed = report.repairs.filter((r) => r.kind === "failed");
  const unresolved = report.repairs.filter((r) => r.kind === "unresolved");
  const notes: string[] = [];
  if (failed.length > 0) {
    const journal = report.journalPath ?? "<journal>";
    notes.push(
      `${failed.length} manifest${failed.length === 1 ? "" : "s"} that a push during the run needed could not be put back. ` +
        `Before garbage collection, put ${failed.length === 1 ? "it" : "them"} back with: ` +
        `gitlab-registry-cleanup restore ${journal} -g … -r … --repository <repository> --digest <digest> ` +
        "(credentials that may push there).",
    );
  }
  if (unresolved.length > 0) {
    notes.push(
      `A tag vanished during the run in ${[...new Set(unresolved.map((r) => r.repository))].join(", ")} and this run cannot tell ` +
        "whether its delete removed it: pull it before garbage collection; if it is gone, `gitlab-registry-cleanup restore <journal>` puts back what this run deleted.",
    );
  }
  return notes;
}
