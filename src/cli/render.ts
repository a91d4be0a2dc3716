/** Plan, outcomes and report -> text for people. No decisions are made here. */
import type { GitLabUser } from "../gitlab/ports.js";
import type { CleanupReport, ManifestOutcome, SkippedRepository } from "../core/report.js";
import type { KeepReasonKind, StorageWarning } from "../core/types.js";
import { formatDuration } from "../core/duration.js";

/** One line per manifest, worded as the original tool printed them. */
export function renderOutcome(outcome: ManifestOutcome): string {
  const what = `image ${outcome.digest} in repository ${outcome.repository}`;
  switch (outcome.kind) {
    case "deleted": return `Deleted ${what}`;
    case "would-delete": return `Would delete ${what}`;
    case "already-gone": return `Already gone: ${what}${outcome.detail ? ` (${outcome.detail})` : ""}`;
    case "protected": return `Skipped ${what}: protected by GitLab tag protection or immutability rules (${outcome.detail ?? ""})`;
    case "kept-on-recheck": return `Kept ${what}: ${outcome.detail ?? "changed since the scan"}`;
    case "failed": return `Could not delete ${what}: ${outcome.detail ?? "unknown error"}`;
  }
}

export function renderWarning(warning: StorageWarning): string {
  return `Warning: ${warning.path}: ${warning.message}`;
}

export function renderSkipped(skipped: SkippedRepository): string {
  return `Skipped repository ${skipped.name} (${skipped.candidates} untagged manifests, ${skipLabel[skipped.reason]}): ${skipped.detail}`;
}

export function renderSignedIn(username: string, user: GitLabUser | undefined): string {
  if (!user) return `Signed in to GitLab as ${username} (password: the REST API is not used, orphan repositories cannot be told apart).`;
  if (user.isAdmin) return `Signed in to GitLab as ${user.username} (administrator).`;
  return `Signed in to GitLab as ${user.username}. Not an administrator: only repositories of projects where ` +
    `${user.username} is Maintainer or Owner can be cleaned.`;
}

const skipLabel: Record<SkippedRepository["reason"], string> = {
  orphan: "orphan",
  "no-permission": "no permission",
  "tags-mismatch": "tags differ from the registry",
  "cross-check-failed": "cross-check failed",
  error: "error",
};

const keepLabel: Record<KeepReasonKind, string> = {
  tagged: "tagged",
  "index-child": "in a kept multi-arch index",
  referrer: "signature/SBOM of a kept image",
  "too-young": "younger than the grace period",
  unreadable: "manifest unreadable",
  "repository-unsafe": "in a repository unsafe to judge",
};

/** The closing summary and the follow-up. */
export function renderSummary(report: CleanupReport, minAgeMs: number): string[] {
  const lines = [report.dryRun ? "Summary (dry run: nothing was deleted)" : "Summary"];
  const row = (label: string, value: number | string): void => void lines.push(`  ${label.padEnd(38)}${value}`);
  row("Repositories scanned", report.repositories);
  row("Manifests on disk", report.manifests);
  row("Tags", report.tags);
  const keptTotal = Object.values(report.kept).reduce((a, b) => a + b, 0);
  row("Manifests kept", keptTotal);
  for (const [kind, count] of Object.entries(report.kept) as Array<[KeepReasonKind, number]>) {
    if (count === 0) continue;
    const label = kind === "too-young" ? `younger than ${formatDuration(minAgeMs)}` : keepLabel[kind];
    row(`  ${label}`, count);
  }
  row("Untagged and unreferenced", report.candidates);
  const o = report.outcomes;
  if (report.dryRun) row("Would delete", o["would-delete"]);
  else row("Deleted", o.deleted);
  if (o["already-gone"] > 0) row("Already gone", o["already-gone"]);
  if (o["kept-on-recheck"] > 0) row("Kept on re-check (changed since scan)", o["kept-on-recheck"]);
  if (o.protected > 0) row("Skipped, protected", o.protected);
  if (o.failed > 0) row("Failed", o.failed);
  if (report.skipped.length > 0) row("Repositories skipped", describeSkips(report.skipped));
  if (report.warnings > 0) row("Warnings", report.warnings);
  if (report.journalPath) lines.push(`Journal of deleted manifests (for restore): ${report.journalPath}`);
  lines.push(...closing(report));
  return lines;
}

function describeSkips(skipped: SkippedRepository[]): string {
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(skipLabel[s.reason], (counts.get(skipLabel[s.reason]) ?? 0) + 1);
  return `${skipped.length} (${[...counts].map(([label, n]) => `${n} ${label}`).join(", ")})`;
}

function closing(report: CleanupReport): string[] {
  if (report.stoppedBecause) return [`Stopped: ${report.stoppedBecause}`];
  if (report.cancelled) return ["Cancelled: nothing was deleted."];
  if (report.interrupted) return ["Interrupted: the counts above are what was done before the stop. Run again to finish."];
  const freed = report.outcomes.deleted + report.outcomes["already-gone"];
  if (report.dryRun) {
    return report.outcomes["would-delete"] > 0 ? ["Run again without -n/--dry-run to delete them."] : ["Nothing to delete."];
  }
  if (freed === 0) return ["Nothing was deleted."];
  return [
    "Next: free the space with",
    "  sudo gitlab-ctl registry-garbage-collect",
    "without -m (-m would also delete untagged manifests this tool deliberately kept). It stops the registry",
    "while it runs and starts it again afterwards; see the README for the no-downtime read-only mode.",
  ];
}
