/**
 * The JSON document of `--json` / `--output`: the plan and the outcome of one run. Field names
 * are part of the interface (docs/json.md); add fields, never rename them. No secrets.
 */
import type { CleanupReport, ManifestOutcome, TagOutcome, TagReport } from "../core/report.js";
import { describeTagKeepReason, type KeptTag } from "../core/retention.js";
import type { StorageWarning } from "../core/types.js";
import type { GcResult } from "../gc.js";
import { orphansJson } from "./orphan-render.js";
import { repositoriesJson } from "./repository-render.js";

export const JSON_SCHEMA_VERSION = 1;

export interface JsonRunInfo {
  version: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  gitlabServer: string;
  registryServer: string;
  /** Where the storage was read: a path, or `s3://bucket/prefix` (the field's name is historical). */
  registryPath: string | null;
  /** The storage read, its driver and the source of its credentials (never a secret). */
  storage: { location: string; driver: string; credentials: string | null } | null;
  username: string;
  minAgeSeconds: number;
}

/** Builds the document. `report` is absent when the run failed before producing one. */
export function buildJsonDocument(
  info: JsonRunInfo,
  report: CleanupReport | undefined,
  outcomes: ManifestOutcome[],
  warnings: StorageWarning[],
  extra: { error?: string; gc?: GcResult; tags?: TagLists } = {},
): Record<string, unknown> {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    tool: { name: "gitlab-registry-cleanup", version: info.version },
    runId: info.runId,
    startedAt: info.startedAt,
    finishedAt: info.finishedAt,
    exitCode: info.exitCode,
    dryRun: report?.dryRun ?? null,
    settings: {
      gitlabServer: info.gitlabServer,
      registryServer: info.registryServer,
      registryPath: info.registryPath,
      storage: info.storage,
      username: info.username,
      minAgeSeconds: info.minAgeSeconds,
    },
    error: extra.error ?? null,
    summary: report ? summaryOf(report) : null,
    space: report?.space ?? null,
    garbageCollection: extra.gc ?? null,
    garbageCollectionHazards: report?.gcHazards ?? [],
    skippedRepositories: report?.skipped ?? [],
    orphans: orphansJson(report),
    tags: report?.tagRetention ? tagsOf(report.tagRetention, extra.tags) : null,
    emptyRepositories: repositoriesJson(report?.emptyRepositories),
    repairs: (report?.repairs ?? []).map((r) => ({
      repository: r.repository, digest: r.digest ?? null, tags: r.tags, outcome: r.kind, reason: r.reason, detail: r.detail ?? null,
    })),
    manifests: outcomes.map((o) => ({ repository: o.repository, digest: o.digest, outcome: o.kind, detail: o.detail ?? null })),
    warnings,
    journal: report?.journalPath ?? null,
  };
}

/** What the run said about each tag: the outcomes of the planned deletions, and the kept ones. */
export interface TagLists {
  outcomes: TagOutcome[];
  kept: Array<{ repository: string; tag: KeptTag }>;
}

function tagsOf(tags: TagReport, lists: TagLists | undefined): Record<string, unknown> {
  const when = (ms: number): string => new Date(ms).toISOString();
  return {
    planned: tags.planned,
    kept: tags.kept,
    outcomes: tags.outcomes,
    deleted: (lists?.outcomes ?? []).map((o) => ({
      repository: o.repository, tag: o.tag, digest: o.digest, pushedAt: when(o.pushedAt), outcome: o.kind, detail: o.detail ?? null,
    })),
    keptTags: (lists?.kept ?? []).map(({ repository, tag }) => ({
      repository, tag: tag.tag, digest: tag.digest, pushedAt: when(tag.pushedAt), reason: tag.reason.kind, detail: describeTagKeepReason(tag.reason),
    })),
  };
}

function summaryOf(report: CleanupReport): Record<string, unknown> {
  return {
    repositories: report.repositories,
    manifests: report.manifests,
    tags: report.tags,
    kept: report.kept,
    candidates: report.candidates,
    outcomes: report.outcomes,
    repairs: {
      restored: report.repairs.filter((r) => r.kind === "restored").length,
      failed: report.repairs.filter((r) => r.kind === "failed").length,
      unresolved: report.repairs.filter((r) => r.kind === "unresolved").length,
    },
    warnings: report.warnings,
    tokenRequests: report.tokenRequests,
    administrator: report.administrator ?? null,
    stoppedBecause: report.stoppedBecause ?? null,
    interrupted: report.interrupted,
    cancelled: report.cancelled,
  };
}
