/**
 * The orphans of a run (repositories no GitLab project owns, GITLAB.md §3), as the report gives
 * them: each with what it holds alone and shares, measured by the space ledger in its one pass
 * over the blob store, its last push, and its counts; the biggest first.
 */
import type { OrphanRepository } from "./core/report.js";
import type { RepositorySpace } from "./core/repository-space.js";
import type { RepositoryWork } from "./execute/execute-repository.js";

/** An orphan's row from its scan, before its candidates are let go; its bytes come with `measured`. */
export function orphanOf(item: RepositoryWork): OrphanRepository {
  return {
    name: item.name, uniqueBytes: 0, sharedBytes: 0, lastPushAt: item.lastPushAt ?? 0,
    manifests: item.manifests ?? 0, tags: item.tags.length, candidates: item.candidates.length,
  };
}

/** The rows with their bytes (`measured` in the same order), by unique bytes, then shared bytes, then name. */
export function measuredOrphans(orphans: readonly OrphanRepository[], measured: readonly RepositorySpace[]): OrphanRepository[] {
  const rows = orphans.map((orphan, i) => ({
    ...orphan, uniqueBytes: measured[i]?.uniqueBytes ?? 0, sharedBytes: measured[i]?.sharedBytes ?? 0,
  }));
  return rows.sort((a, b) => b.uniqueBytes - a.uniqueBytes || b.sharedBytes - a.sharedBytes || (a.name < b.name ? -1 : 1));
}
