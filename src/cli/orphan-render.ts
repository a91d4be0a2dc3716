/**
 * Orphans (repositories no GitLab project owns, GITLAB.md §3) in the summary and in the JSON
 * document: what each holds alone and shares, when it was last pushed, and what the admin can
 * do about it. The text shows the biggest few (all with -v); the JSON document carries them all.
 */
import { formatDuration } from "../core/duration.js";
import type { CleanupReport, OrphanRepository } from "../core/report.js";
import { formatBytes, formatCount } from "./format.js";

/** Orphans listed without -v: the rest are counted. */
export const TOP_ORPHANS = 10;

/** The section after the summary's space report; nothing when the run found no orphan. */
export function renderOrphans(report: CleanupReport, options: { verbose: boolean; minAgeMs: number }): string[] {
  const orphans = report.orphans ?? [];
  if (orphans.length === 0) return [];
  const shown = options.verbose ? orphans : orphans.slice(0, TOP_ORPHANS);
  const own = orphans.reduce((n, o) => n + o.uniqueBytes, 0);
  const lines = [
    `Orphan repositories: ${formatCount(orphans.length)}, left untouched (no GitLab project owns them, so no token can delete in them)`,
    `  Removing them all would free at least ${formatBytes(own)} (each one's own blobs; blobs only orphans share come on top).`,
    `  ${"repository".padEnd(38)}${"only its own".padEnd(14)}${"shared".padEnd(12)}${"last push".padEnd(12)}manifests  tags`,
    ...shown.map(row),
  ];
  if (shown.length < orphans.length) {
    lines.push(`  … and ${formatCount(orphans.length - shown.length)} more (-v lists them all, --json carries them all)`);
  }
  return [...lines, ...advice(options.minAgeMs)];
}

function row(orphan: OrphanRepository): string {
  return `  ${orphan.name.padEnd(38)}${formatBytes(orphan.uniqueBytes).padEnd(14)}${formatBytes(orphan.sharedBytes).padEnd(12)}` +
    `${day(orphan.lastPushAt).padEnd(12)}${formatCount(orphan.manifests).padEnd(11)}${formatCount(orphan.tags)}`;
}

function advice(minAgeMs: number): string[] {
  const recent = minAgeMs > 0 ? `pushes of the last ${formatDuration(minAgeMs)}` : "recent pushes";
  return [
    "  To reclaim them: recreate the project at that path (or rename a project back to it), then run this tool",
    "  again, which then cleans them like any other; or run `sudo gitlab-ctl registry-garbage-collect -m`, which",
    "  deletes every untagged manifest in every repository, including those this tool keeps on purpose",
    `  (${recent}, platform manifests of a multi-arch push in flight). See docs/troubleshooting.md#orphans.`,
  ];
}

/** `2024-03-02`, or `unknown` for a repository without a single link time. */
function day(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().slice(0, 10) : "unknown";
}

/** The JSON document's `orphans`: every one, by unique bytes. */
export function orphansJson(report: CleanupReport | undefined): Array<Record<string, unknown>> {
  return (report?.orphans ?? []).map((o) => ({
    name: o.name, uniqueBytes: o.uniqueBytes, sharedBytes: o.sharedBytes,
    lastPush: o.lastPushAt > 0 ? new Date(o.lastPushAt).toISOString() : null,
    manifests: o.manifests, tags: o.tags, candidates: o.candidates,
  }));
}
