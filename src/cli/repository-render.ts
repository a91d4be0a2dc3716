/** `--delete-empty-repositories` -> text and JSON: a line per repository, summary rows, a note. No decisions here. */
import type { PlanTotals } from "../cleanup.js";
import type { CleanupReport, EmptyRepositoryReport, RepositoryOutcome } from "../core/report.js";
import { formatCount } from "./format.js";

/** One line per repository; `not-in-gitlab` and `no-permission` are shown with --verbose only (see `isQuiet`). */
export function renderRepositoryOutcome(outcome: RepositoryOutcome): string {
  const name = outcome.repository;
  switch (outcome.kind) {
    case "deleted": return `Deleted repository ${name} (GitLab will finish removing it)`;
    case "would-delete": return `Would delete repository ${name} (GitLab's record of it cannot be restored)`;
    case "already-removing": return `Already being removed by GitLab: repository ${name}`;
    case "kept": return `Kept repository ${name} in GitLab: ${outcome.detail ?? "not empty after all"}`;
    case "not-in-gitlab": return `Not in GitLab: repository ${name} (${outcome.detail ?? "no record of it"})`;
    case "no-permission": return `Left repository ${name} in GitLab: ${outcome.detail ?? "no permission"}`;
    case "failed": return `Could not delete repository ${name}: ${outcome.detail ?? "unknown error"}`;
  }
}

/** Outcomes that are routine (nothing to do there), printed only with --verbose. */
export function isQuiet(outcome: RepositoryOutcome): boolean {
  return outcome.kind === "not-in-gitlab" || outcome.kind === "no-permission";
}

/** The summary's rows, when the flag was given. */
export function repositoryRows(report: CleanupReport, row: (label: string, value: number) => void): void {
  const o = report.emptyRepositories?.outcomes;
  if (!o) return;
  if (report.dryRun) row("Repositories to delete in GitLab", o["would-delete"]);
  else row("Repositories deleted in GitLab", o.deleted);
  if (o["already-removing"] > 0) row("  already being removed by GitLab", o["already-removing"]);
  if (o.kept > 0) row("  kept: not empty at the last check", o.kept);
  if (o["not-in-gitlab"] + o["no-permission"] > 0) row("  left alone (no record, no permission)", o["not-in-gitlab"] + o["no-permission"]);
  if (o.failed > 0) row("  failed", o.failed);
}

/** What to know about the repositories deleted (or to delete) in GitLab. */
export function repositoryNotes(report: CleanupReport): string[] {
  const o = report.emptyRepositories?.outcomes;
  if (!o) return [];
  if (report.dryRun && o["would-delete"] > 0) {
    return ["Deleting a repository removes GitLab's record of it, which restore cannot bring back (a later push creates a new one)."];
  }
  if (report.dryRun || o.deleted === 0) return [];
  return [
    `GitLab deletes repositories in the background: the ${formatCount(o.deleted)} deleted above leave its Container Registry ` +
      "pages once its worker has run (it deletes any tag it finds there first). Their directories stay in the storage.",
  ];
}

/** True when GitLab accepted a repository delete (the run did something even if no manifest went). */
export function deletedRepositories(report: CleanupReport): boolean {
  return (report.emptyRepositories?.outcomes.deleted ?? 0) > 0;
}

/** The confirmation question: the tags and manifests, then the repositories left empty. */
export function confirmQuestion(totals: PlanTotals): string {
  const parts = [];
  if (totals.tags > 0) parts.push(`${formatCount(totals.tags)} tags`);
  if (totals.candidates > 0 || parts.length > 0 || !totals.emptyRepositories) {
    parts.push(`${formatCount(totals.candidates)} untagged manifests in ${formatCount(totals.repositories)} repositories`);
  }
  const what = parts.join(" and ");
  if (!totals.emptyRepositories) return `Delete ${what}?`;
  const n = totals.emptyRepositories;
  const repositories = `${formatCount(n)} ${n === 1 ? "repository" : "repositories"} left empty in GitLab`;
  return what === "" ? `Delete ${repositories}?` : `Delete ${what}, then up to ${repositories}?`;
}

/** The `emptyRepositories` section of `--json` (docs/json.md); null without the flag. */
export function repositoriesJson(report: EmptyRepositoryReport | undefined): Record<string, unknown> | null {
  if (!report) return null;
  return {
    outcomes: report.outcomes,
    repositories: report.repositories.map((o) => ({
      repository: o.repository, outcome: o.kind, project: o.project ?? null, gitlabId: o.gitlabId ?? null, detail: o.detail ?? null,
    })),
  };
}
