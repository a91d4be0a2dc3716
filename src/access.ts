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

/** What is known about the user, to tell why GitLab refused a repository. */
export interface AccessView {
  /**
   * Whether GitLab treats the user as an instance administrator (the REST API's `is_admin` for a
   * token, the `registry:catalog:*` scope for a password), asked only when something is refused.
   * GitLab grants an administrator delete in every repository that has a project with its
   * container registry enabled, so a refusal means no project (an orphan) or a disabled registry.
   */
  administrator: () => Promise<boolean>;
  /** The REST API, given only for an administrator's token: it tells those two cases apart. */
  api?: GitLabApi;
}

/**
 * Asks GitLab for tokens covering `names` and sorts them into deletable and refused. Only an
 * administrator's refusals say anything about orphans: anyone else is refused in projects they
 * are not a member of too, and cannot see private ones.
 */
export async function checkAccess(names: RepositoryName[], tokens: TokenProvider, view: AccessView): Promise<AccessResult> {
  const granted = await tokens.authorize(names);
  const deletable = new Set<RepositoryName>();
  const denied: RepositoryName[] = [];
  for (const name of names) (granted.get(name) ? deletable.add(name) : denied.push(name));
  const refused: AccessResult["refused"] = [];
  const administrator = denied.length > 0 && (await view.administrator());
  await forEachBounded(denied, 4, async (name) => {
    refused.push(await classifyDenied(name, administrator, view.api));
  });
  refused.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { deletable, refused };
}

async function classifyDenied(
  name: RepositoryName,
  administrator: boolean,
  api: GitLabApi | undefined,
): Promise<Omit<SkippedRepository, "candidates" | "bytes">> {
  if (!administrator) {
    return {
      name,
      reason: "no-permission",
      detail: "the token GitLab issued lacks delete: your role in its project may not delete container images " +
        "(Maintainer or higher is sure to; admins may everywhere), or no GitLab project owns this repository any more " +
        "(an administrator can tell which, with a password or a personal access token)",
    };
  }
  const existing = api ? await firstExisting(api, candidateProjectPaths(name)) : undefined;
  if (existing !== undefined) {
    return {
      name,
      reason: "no-permission",
      detail: `project ${existing} exists, but GitLab grants even an administrator no delete there: its container registry ` +
        "is disabled (Settings > General > Visibility, project features, permissions); enable it to clean this repository",
    };
  }
  return {
    name,
    reason: "orphan",
    detail: "GitLab knows no project for this repository (deleted or renamed, a name of one path element, or nested " +
      "more than 3 levels below its project), so no token can delete in it; its files were left untouched" +
      (api ? "" : " (with a password the REST API cannot be asked; an existing project whose container registry is " +
        "disabled is refused the same way)"),
  };
}

async function firstExisting(api: GitLabApi, paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) if (await api.projectExists(path)) return path;
  return undefined;
}
