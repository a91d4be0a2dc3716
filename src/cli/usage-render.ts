/**
 * The usage report -> text tables for people, or the `usage --json` document (docs/usage-report.md:
 * field names are part of the interface; add fields, never rename them). No decisions here.
 */
import { formatDuration } from "../core/duration.js";
import type { StorageWarning } from "../core/types.js";
import type { RepositoryUsage, UsageReport, UsageRow } from "../core/usage.js";
import type { UsageResult } from "../usage.js";
import { formatBytes, formatCount } from "./format.js";
import type { Style } from "./style.js";

/** What the report says about how it was made. */
export interface UsageInfo {
  version: string;
  storage: { location: string; driver: string; credentials: string | null };
  minAgeMs: number;
  /** Rows per table; undefined: all. */
  top: number | undefined;
  /** GitLab's URL when projects were looked up. */
  gitlabServer?: string;
  /** The projects were looked up with an administrator's token, so "no project" means orphan. */
  orphansKnown: boolean;
}

const HEADERS = ["tags", "manifests", "untagged", "size", "kept", "freeable", "shared"];
/** Rolled-up rows also say how many repositories they hold. */
const ROLLED_UP_HEADERS = ["repositories", ...HEADERS];

/** The whole text report: storage, blob store, one table per level, orphans, the total. */
export function renderUsage(result: UsageResult, info: UsageInfo, style: Style): string[] {
  const { report } = result;
  const store = report.blobStore;
  const { location, credentials } = info.storage;
  const lines = [
    `Storage: ${credentials ? `${location} (credentials from ${credentials})` : location}`,
    `Blob store: ${formatBytes(store.bytes)} in ${formatCount(store.blobs)} blobs, of which ${formatBytes(store.unreferencedBytes)} ` +
      `in ${formatCount(store.unreferencedBlobs)} blobs no manifest references (garbage collection frees those already).`,
    info.minAgeMs > 0
      ? `Untagged manifests pushed in the last ${formatDuration(info.minAgeMs)} count as kept, as the cleanup keeps them (--min-age).`
      : "--min-age 0: every untagged manifest nothing kept needs counts as deleted by a cleanup.",
  ];
  const label = (repository: RepositoryUsage): string =>
    repository.project === null ? `${repository.name} (${info.orphansKnown ? "orphan" : "no project visible"})` : repository.name;
  lines.push("", ...table(style, "Repositories", "repository", report.repositories, info.top, label));
  if (report.projects) lines.push("", ...table(style, "Projects", "project", report.projects, info.top));
  lines.push("", ...table(style, "Top-level groups", "group", report.groups, info.top));
  if (report.withoutProject && report.withoutProject.repositories > 0) lines.push("", ...orphans(report, report.withoutProject, info));
  lines.push("", ...totalLines(report, style, info.orphansKnown));
  if (result.interrupted) {
    lines.push("Interrupted: the numbers above cover only the repositories scanned before the stop, and freeable may count " +
      "blobs that a repository not scanned yet keeps.");
  }
  return lines;
}

/** A title, a header and the first `top` rows, numbers right-aligned. */
function table<T extends UsageRow>(
  style: Style,
  title: string,
  what: string,
  rows: readonly T[],
  top: number | undefined,
  label?: (row: T) => string,
): string[] {
  const shown = top === undefined ? rows : rows.slice(0, top);
  const heading = `${title} by space a cleanup would free (${shown.length === rows.length ? "all" : "top"} ` +
    `${formatCount(shown.length)} of ${formatCount(rows.length)}):`;
  if (rows.length === 0) return [style.bold(`${title}: none.`)];
  const headers = label ? HEADERS : ROLLED_UP_HEADERS;
  const cells = shown.map((row) => (label ? [label(row), ...numbers(row)] : [row.name, formatCount(row.repositories), ...numbers(row)]));
  const widths = [what, ...headers].map((header, column) => Math.max(header.length, ...cells.map((cell) => cell[column]!.length)));
  const format = (cell: string[]): string =>
    `  ${cell.map((text, column) => (column === 0 ? text.padEnd(widths[0]!) : text.padStart(widths[column]!))).join("  ")}`.trimEnd();
  return [style.bold(heading), format([what, ...headers]), ...cells.map(format)];
}

function numbers(row: UsageRow): string[] {
  return [
    formatCount(row.tags), formatCount(row.manifests), formatCount(row.candidates),
    formatBytes(row.bytes), formatBytes(row.keptBytes), formatBytes(row.freeableBytes), formatBytes(row.sharedBytes),
  ];
}

/** The repositories without a project, together, then each of them (the first `top`), with what to do. */
function orphans(report: UsageReport, together: UsageRow, info: UsageInfo): string[] {
  const unique = (row: UsageRow): string => `${formatBytes(row.bytes - row.sharedBytes)} of it used by no other repository`;
  const what = `${formatCount(together.repositories)} ${together.repositories === 1 ? "repository" : "repositories"}, ` +
    `${formatBytes(together.bytes)} (${unique(together)}), ${formatBytes(together.freeableBytes)} held only by untagged manifests`;
  const rows = report.repositories.filter((row) => row.project === null);
  const shown = info.top === undefined ? rows : rows.slice(0, info.top);
  const each = shown.map((row) => `  ${row.name}: ${formatBytes(row.bytes)} (${unique(row)}), ${formatBytes(row.freeableBytes)} freeable`);
  if (shown.length < rows.length) each.push(`  … and ${formatCount(rows.length - shown.length)} more (--top)`);
  if (!info.orphansKnown) {
    return [`Without a project visible to this token: ${what}. Only an administrator's token tells orphans apart.`, ...each];
  }
  return [
    `Orphans (no GitLab project owns them): ${what}.`,
    ...each,
    "A cleanup cannot delete in them (no token covers them): recreate or rename the project to that path and clean it,",
    "or run `gitlab-ctl registry-garbage-collect -m`, which also deletes every untagged manifest the cleanup keeps on purpose.",
  ];
}

function totalLines(report: UsageReport, style: Style, orphansKnown: boolean): string[] {
  const { total } = report;
  const levels = [
    `${formatCount(total.repositories)} repositories`,
    ...(report.projects ? [`${formatCount(report.projects.length)} projects`] : []),
    `${formatCount(report.groups.length)} top-level groups`,
  ];
  const orphaned = report.withoutProject && report.withoutProject.freeableBytes > 0 && orphansKnown
    ? `; ${formatBytes(report.withoutProject.freeableBytes)} of it in orphans, only once they have a project again`
    : "";
  return [
    style.bold(`Total: ${levels.join(", ")}; ${formatCount(total.tags)} tags, ${formatCount(total.manifests)} manifests ` +
      `(${formatCount(total.candidates)} untagged ones a cleanup deletes)`),
    `  size ${formatBytes(total.bytes)}, kept ${formatBytes(total.keptBytes)}, freeable ${formatBytes(total.freeableBytes)}` +
      ` (what a cleanup, then garbage collection, frees${orphaned})`,
  ];
}

/** Bumped when a field changes meaning; new fields do not bump it. */
export const USAGE_JSON_SCHEMA_VERSION = 1;

/** The `--json` document. `warnings` as they were reported. */
export function usageJson(result: UsageResult, info: UsageInfo, warnings: StorageWarning[], generatedAt: Date): Record<string, unknown> {
  const { report } = result;
  const limit = <T>(rows: readonly T[]): T[] => (info.top === undefined ? [...rows] : rows.slice(0, info.top));
  return {
    schemaVersion: USAGE_JSON_SCHEMA_VERSION,
    tool: { name: "gitlab-registry-cleanup", version: info.version },
    command: "usage",
    generatedAt: generatedAt.toISOString(),
    interrupted: result.interrupted,
    settings: {
      storage: info.storage,
      minAgeSeconds: info.minAgeMs / 1000,
      top: info.top ?? null,
      gitlabServer: info.gitlabServer ?? null,
    },
    blobStore: report.blobStore,
    total: { ...jsonRow(report.total), projects: report.projects?.length ?? null, groups: report.groups.length },
    repositories: limit(report.repositories).map((row) => ({
      ...jsonRow(row),
      group: row.group,
      project: row.project ?? null,
      orphan: row.project === undefined || (row.project === null && !info.orphansKnown) ? null : row.project === null,
    })),
    projects: report.projects ? limit(report.projects).map(jsonRow) : null,
    groups: limit(report.groups).map(jsonRow),
    orphans: report.withoutProject && info.orphansKnown ? jsonRow(report.withoutProject) : null,
    warnings,
  };
}

function jsonRow(row: UsageRow): Record<string, unknown> {
  return {
    name: row.name, repositories: row.repositories, tags: row.tags, manifests: row.manifests, candidates: row.candidates,
    bytes: row.bytes, keptBytes: row.keptBytes, freeableBytes: row.freeableBytes, sharedBytes: row.sharedBytes,
  };
}
