/** Plan, outcomes and report -> text for people. No decisions are made here. */
import { formatDuration } from "../core/duration.js";
import type { CleanupReport, ManifestOutcome, SkippedRepository, TagOutcome, TagReport } from "../core/report.js";
import { describeTagKeepReason, type KeptTag, type TagKeepReasonKind } from "../core/retention.js";
import type { GcHazard } from "../core/gc-hazards.js";
import type { SpaceEstimate } from "../core/space.js";
import type { KeepReasonKind, StorageWarning } from "../core/types.js";
import type { GitLabUser } from "../gitlab/ports.js";
import { crossCheckRefusedAll, noPermissionAnywhere } from "./exit-code.js";
import { formatBytes, formatCount } from "./format.js";
import { renderOrphans } from "./orphan-render.js";
import { repairNotes, repairRows } from "./repair-render.js";
import { deletedRepositories, repositoryNotes, repositoryRows } from "./repository-render.js";

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

/** One line per tag retention deletes (or would, or did not in the end). */
export function renderTagOutcome(outcome: TagOutcome): string {
  const what = `tag ${outcome.tag} (${outcome.digest}, pushed ${new Date(outcome.pushedAt).toISOString().slice(0, 10)}) in repository ${outcome.repository}`;
  switch (outcome.kind) {
    case "deleted": return `Deleted ${what}`;
    case "would-delete": return `Would delete ${what}`;
    case "already-gone": return `Already gone: ${what}${outcome.detail ? ` (${outcome.detail})` : ""}`;
    case "protected": return `Kept ${what}: protected (${outcome.detail ?? "GitLab tag protection"})`;
    case "kept-on-recheck": return `Kept ${what}: ${outcome.detail ?? "changed since the scan"}`;
    case "failed": return `Could not delete ${what}: ${outcome.detail ?? "unknown error"}`;
  }
}

/** A kept tag and why, for --verbose. */
export function renderKeptTag(repository: string, tag: KeptTag): string {
  return `Keep tag ${tag.tag} (${tag.digest}) in repository ${repository}: ${describeTagKeepReason(tag.reason)}`;
}

export function renderWarning(warning: StorageWarning): string {
  return `Warning: ${warning.path}: ${warning.message}`;
}

export function renderSkipped(skipped: SkippedRepository): string {
  return `Skipped repository ${skipped.name} (${skipped.candidates} untagged manifests, ${formatBytes(skipped.bytes)}, ` +
    `${skipLabel[skipped.reason]}): ${skipped.detail}`;
}

export function renderSignedIn(username: string, user: GitLabUser | undefined): string {
  if (!user) {
    return `Signed in to GitLab as ${username} (password: the REST API is not used; whether you are an administrator, ` +
      "who alone can tell orphans apart, is asked through the registry:catalog scope GitLab grants administrators only).";
  }
  if (user.isAdmin) return `Signed in to GitLab as ${user.username} (administrator).`;
  return `Signed in to GitLab as ${user.username}. Not an administrator: only repositories of projects where ` +
    `${user.username} may delete container images can be cleaned.`;
}

const skipLabel: Record<SkippedRepository["reason"], string> = {
  orphan: "orphan",
  "no-permission": "no permission",
  "tags-mismatch": "tags differ from the registry",
  "cross-check-failed": "cross-check failed",
  "tags-damaged": "stray entries in its tags",
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

type Row = (label: string, value: number | string) => void;

/** The closing summary, the space report and the follow-up (none when --gc runs it next). */
/** What the summary says about the storage it read. */
export interface StorageLine {
  location: string;
  /** Where the credentials to read it came from (object storage), in words. */
  credentials: string | null;
}

export function renderSummary(
  report: CleanupReport,
  minAgeMs: number,
  options: { gcFollows?: boolean; storage?: StorageLine; verbose?: boolean } = {},
): string[] {
  const lines = [report.dryRun ? "Summary (dry run: nothing was deleted)" : "Summary"];
  const row: Row = (label, value) => void lines.push(`  ${label.padEnd(38)}${typeof value === "number" ? formatCount(value) : value}`);
  if (options.storage) {
    const { location, credentials } = options.storage;
    row("Storage", credentials ? `${location} (credentials from ${credentials})` : location);
  }
  row("Repositories scanned", report.repositories);
  row("Manifests on disk", report.manifests);
  row("Tags", report.tags);
  row("Manifests kept", Object.values(report.kept).reduce((a, b) => a + b, 0));
  for (const [kind, count] of Object.entries(report.kept) as Array<[KeepReasonKind, number]>) {
    if (count === 0) continue;
    row(`  ${kind === "too-young" ? `younger than ${formatDuration(minAgeMs)}` : keepLabel[kind]}`, count);
  }
  if (report.tagRetention) tagRows(report.tagRetention, report.dryRun, row);
  row("Untagged and unreferenced", report.candidates);
  outcomeRows(report, row);
  repairRows(report, row);
  repositoryRows(report, row);
  if (report.skipped.length > 0) row("Repositories skipped", describeSkips(report.skipped));
  if (report.warnings > 0) row("Warnings", report.warnings);
  if (report.space) lines.push(...renderSpace(report, report.space));
  lines.push(...renderOrphans(report, { verbose: options.verbose === true, minAgeMs }));
  lines.push(...repositoryNotes(report));
  lines.push(...repairNotes(report));
  if (report.journalPath) lines.push(`Journal of deleted manifests and tags (for restore): ${report.journalPath}`);
  lines.push(...renderGcHazards(report.gcHazards ?? []));
  lines.push(...(options.gcFollows ? ["Running garbage collection next (--gc)."] : closing(report)));
  return lines;
}

/**
 * Each file garbage collection will stop at, why, and the command that fixes or moves it. The
 * ones only `-m` reads come last, worded so: plain garbage collection goes past them.
 */
export function renderGcHazards(hazards: readonly GcHazard[]): string[] {
  const lines: string[] = [];
  const ordered = [...hazards.filter((h) => !h.onlyWithDeleteUntagged), ...hazards.filter((h) => h.onlyWithDeleteUntagged)];
  for (const hazard of ordered) {
    const who = hazard.onlyWithDeleteUntagged ? "Garbage collection with -m/--delete-untagged" : "Garbage collection";
    lines.push(
      `${who} will fail on ${hazard.path} because ${hazard.reason}.`,
      `  Fix: ${hazard.fix}`,
      `  (${hazard.effect}.)`,
    );
  }
  return lines;
}

const tagKeepLabel: Record<TagKeepReasonKind, string> = {
  latest: "latest",
  "name-regex-keep": "name-regex-keep",
  "not-matched": "not matching name-regex-delete",
  "keep-n": "keep-n",
  "newer-than": "pushed within older-than",
  protected: "protected",
};

/** Tag retention: kept by reason, planned, and what became of the planned ones. */
function tagRows(tags: TagReport, dryRun: boolean, row: Row): void {
  row("Tags kept by retention", Object.values(tags.kept).reduce((a, b) => a + b, 0));
  for (const [kind, count] of Object.entries(tags.kept) as Array<[TagKeepReasonKind, number]>) {
    if (count > 0) row(`  ${tagKeepLabel[kind]}`, count);
  }
  row(dryRun ? "Tags to delete" : "Tags planned for deletion", tags.planned);
  const labels: Array<[keyof TagReport["outcomes"], string]> = [
    ["deleted", "  deleted"], ["would-delete", "  would be deleted"], ["already-gone", "  already gone"],
    ["protected", "  kept: protected"], ["kept-on-recheck", "  kept: changed since the scan"], ["failed", "  failed"],
  ];
  for (const [kind, label] of labels) if (tags.outcomes[kind] > 0) row(label, tags.outcomes[kind]);
}

function outcomeRows(report: CleanupReport, row: Row): void {
  const o = report.outcomes;
  if (report.dryRun) row("Would delete", o["would-delete"]);
  else row("Deleted", o.deleted);
  if (o["already-gone"] > 0) row("Already gone", o["already-gone"]);
  if (o["kept-on-recheck"] > 0) row("Kept on re-check (changed since scan)", o["kept-on-recheck"]);
  if (o.protected > 0) row("Skipped, protected", o.protected);
  if (o.failed > 0) row("Failed", o.failed);
}

/** Before / after garbage collection, and where the space comes from. */
function renderSpace(report: CleanupReport, space: SpaceEstimate): string[] {
  const gone = report.outcomes.deleted + report.outcomes["would-delete"] + report.outcomes["already-gone"];
  const tagOutcomes = report.tagRetention?.outcomes;
  const tagsGone = tagOutcomes ? tagOutcomes.deleted + tagOutcomes["would-delete"] + tagOutcomes["already-gone"] : 0;
  const table: Array<[string, string, string]> = [
    ["Repositories", formatCount(report.repositories), formatCount(report.repositories)],
    ["Tags", formatCount(report.tags), formatCount(report.tags - tagsGone)],
    ["Manifests", formatCount(report.manifests), formatCount(report.manifests - gone)],
    ["Blobs", formatCount(space.before.blobs), formatCount(space.after.blobs)],
    ["Total size", formatBytes(space.before.bytes), formatBytes(space.after.bytes)],
  ];
  const verb = report.dryRun ? "would free" : "frees";
  const lines = [
    `Space: garbage collection ${verb} ${formatBytes(space.freedByRun.bytes + space.alreadyUnreferenced.bytes)}`,
    `  ${"".padEnd(38)}${"now".padEnd(16)}after garbage collection`,
    ...table.map(([label, now, after]) => `  ${label.padEnd(38)}${now.padEnd(16)}${after}`),
    `  ${`Blobs only the ${report.dryRun ? "candidates" : "deleted manifests"} use`.padEnd(38)}` +
      `${formatCount(space.freedByRun.blobs)} (${formatBytes(space.freedByRun.bytes)})`,
    `  ${"Blobs already unreferenced".padEnd(38)}` +
      `${formatCount(space.alreadyUnreferenced.blobs)} (${formatBytes(space.alreadyUnreferenced.bytes)})`,
  ];
  const top = space.topRepositories.filter((r) => r.bytes > 0);
  if (top.length > 0) {
    lines.push(`Top repositories by space ${verb === "frees" ? "freed" : "to free"}:`);
    for (const r of top) lines.push(`  ${r.name.padEnd(38)}${formatBytes(r.bytes).padEnd(16)}${formatCount(r.manifests)} manifests`);
  }
  return lines;
}

function describeSkips(skipped: SkippedRepository[]): string {
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(skipLabel[s.reason], (counts.get(skipLabel[s.reason]) ?? 0) + 1);
  return `${skipped.length} (${[...counts].map(([label, n]) => `${n} ${label}`).join(", ")})`;
}

function closing(report: CleanupReport): string[] {
  if (report.stoppedBecause) return [`Stopped: ${report.stoppedBecause}`];
  if (noPermissionAnywhere(report)) {
    return ["Nothing can be deleted with these credentials: they may delete in none of the repositories that have " +
      "something to delete. Use an administrator, or a password or api-scope token of a user whose role may delete " +
      "container images there."];
  }
  if (crossCheckRefusedAll(report)) {
    return ["Nothing was deleted: the registry's tags differ from the storage in every repository checked. " +
      "Check that -p is the storage of the registry given with -r."];
  }
  if (report.cancelled) return ["Cancelled: nothing was deleted."];
  if (report.interrupted) return ["Interrupted: the counts above are what was done before the stop. Run again to finish."];
  if (report.dryRun) {
    if (report.outcomes["would-delete"] + (report.emptyRepositories?.outcomes["would-delete"] ?? 0) > 0) {
      return ["Run again without -n/--dry-run to delete them."];
    }
    return report.skipped.length > 0
      ? ["Nothing can be deleted: every repository with something to delete was skipped (see above)."]
      : ["Nothing to delete."];
  }
  const freed = (report.space?.freedByRun.bytes ?? 0) + (report.space?.alreadyUnreferenced.bytes ?? 0);
  if (report.outcomes.deleted + report.outcomes["already-gone"] === 0 && freed === 0) {
    return deletedRepositories(report) ? [] : ["Nothing was deleted."];
  }
  const stopping = (report.gcHazards ?? []).some((hazard) => !hazard.onlyWithDeleteUntagged);
  const damaged = stopping
    ? ["Fix or move the files named above first: garbage collection stops at the first of them and frees nothing."]
    : [];
  return [
    ...damaged,
    "Next: free the space with",
    "  sudo gitlab-ctl registry-garbage-collect",
    "without -m (-m would also delete untagged manifests this tool deliberately kept). It stops the registry",
    "while it runs and starts it again afterwards; docs/garbage-collection.md has the no-downtime procedure.",
  ];
}
