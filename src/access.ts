/**
 * Which repositories the credentials may delete in, and for those they may not, whether GitLab
 * knows a project for them at all (orphans: GITLAB.md §3).
 */
import { candidateProjectPaths, type RepositoryName } from "./core/repository-name.js";
import type { SkippedRepository } from "./core/report.js";
import { forEachBounded } from "./execute/pool.js";
import type { GitLabApi, TokenProvider } from "./gitlab/ports.js";

export interface AccessResult {
  deletable: Set<RepositoryName>;
  /** Repositories without delete permission, classified. `candidates` is filled by the caller. */
  refused: Array<Omit<SkippedRepository, "candidates" | "bytes">>;
}

/**
 * Asks GitLab for tokens covering `names` and sorts them into deletable and refused. `api` is
 * given only for an administrator's token: anyone else cannot see private projects they are not a
 * member of, so a project missing from their view proves nothing about orphans.
 */
export async function checkAccess(names: RepositoryName[], tokens: TokenProvider, api: GitLabApi | undefined): Promise<AccessResult> {
  const granted = await tokens.authorize(names);
  const deletable = new Set<RepositoryName>();
  const denied: RepositoryName[] = [];
  for (const name of names) (granted.get(name) ? deletable.add(name) : denied.push(name));
  const refused: AccessResult["refused"] = [];
  await forEachBounded(denied, 4, async (name) => {
    refused.push(await classifyDenied(name, api));
  });
  refused.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { deletable, refused };
}

async function classifyDenied(name: RepositoryName, api: GitLabApi | undefined): Promise<Omit<SkippedRepository, "candidates" | "bytes">> {
  if (!api) {
    return {
      name,
      reason: "no-permission",
      detail: "the token GitLab issued lacks delete: your role in its project may not delete container images " +
        "(Maintainer or higher is sure to; admins may everywhere), or no GitLab project owns this repository any more " +
        "(an administrator's personal access token with the api scope can tell which)",
    };
  }
  for (const path of candidateProjectPaths(name)) {
    if (await api.projectExists(path)) {
      return {
        name,
        reason: "no-permission",
        detail: `your role in project ${path} may not delete container images (Maintainer or higher is sure to; admins may everywhere)`,
      };
    }
  }
  return {
    name,
    reason: "orphan",
    detail: "GitLab knows no project for this repository (deleted or renamed, a name of one path element, or nested " +
      "more than 3 levels below its project), so no token can delete in it; its files were left untouched",
  };
}
