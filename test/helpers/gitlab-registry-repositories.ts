/**
 * GitLab's records of container repositories, as the stand-in keeps and serves them (GITLAB.md
 * §13): `GET /projects/:id/registry/repositories` (paginated like GitLab, 20 per page by default,
 * 100 at most) and `DELETE /projects/:id/registry/repositories/:repository_id`, which answers 202
 * and removes the record a moment later, as GitLab's background worker does. GitLab creates a
 * record when it grants push on a repository path; so does the stand-in (gitlab-standin.ts).
 *
 * Refusals follow GitLab's API: a project the caller cannot see is a 404; listing needs the
 * Reporter role (`read_container_image`), deleting the Maintainer role (`admin_container_image`)
 * and a token with `api`; a container repository protection rule whose minimum level for delete
 * is above the caller's role is a 403 `Deleting protected container repository forbidden.`
 * (administrators are exempt).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { canSeeProject, hasRole, resolveProject, type Role, type StandinUser, type StoredProject } from "./gitlab-permissions.js";
import type { ProtectionLevel } from "./gitlab-tag-rules.js";

/** A repository record: GitLab's `ContainerRepository`. */
export interface StandinRepository {
  id: number;
  /** Full path, e.g. `group/project/old`; the project's own path for its root repository. */
  path: string;
  projectId: number;
  createdAt: string;
  /** `delete_scheduled` from the DELETE until the record goes; null otherwise. */
  status: "delete_scheduled" | null;
}

/** A container repository protection rule (`repository_path_pattern`, `*` as wildcard). */
export interface RepositoryProtectionRule {
  repositoryPathPattern: string;
  minimumAccessLevelForDelete: ProtectionLevel;
}

/** What the stand-in keeps about repositories. */
export interface RepositoryRecords {
  byId: Map<number, StandinRepository>;
  /** Protection rules by project path. */
  protection: Map<string, RepositoryProtectionRule[]>;
  /** How long a deleted record stays listed (as `delete_scheduled`), in ms. */
  deleteDelayMs: number;
  /** The registry's host, for `location`. */
  registryHost: string;
}

/** The caller as gitlab-rest.ts identified it. */
export interface RepositoryCaller {
  user?: StandinUser;
  scopes: string[];
}

const LEVEL: Record<Role | "admin", number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50, admin: 60 };

/**
 * The record of `path`, created if missing (as GitLab does when it grants push there). Undefined
 * when no project owns the path (GITLAB.md §3).
 */
export function recordRepository(
  records: RepositoryRecords, projects: Iterable<StoredProject>, path: string, nextId: () => number,
): StandinRepository | undefined {
  const existing = [...records.byId.values()].find((record) => record.path === path);
  if (existing) return existing;
  const project = resolveProject(projects, path);
  if (!project) return undefined;
  const record: StandinRepository = { id: nextId(), path, projectId: project.id, createdAt: new Date().toISOString(), status: null };
  records.byId.set(record.id, record);
  return record;
}

/** Serves both endpoints for `project` (already resolved by id or path, undefined when unknown). */
export function answerRepositories(
  req: IncomingMessage, res: ServerResponse, records: RepositoryRecords, caller: RepositoryCaller,
  project: StoredProject | undefined, repositoryId: number | undefined,
): number {
  const method = req.method ?? "GET";
  if (method !== "GET" && (method !== "DELETE" || repositoryId === undefined)) return send(res, 405, { message: "405 Method Not Allowed" });
  const scopes = method === "GET" ? ["api", "read_api"] : ["api"];
  if (caller.user && !caller.scopes.some((scope) => scopes.includes(scope))) {
    return send(res, 403, {
      error: "insufficient_scope",
      error_description: "The request requires higher privileges than provided by the access token.",
      scope: scopes.join(" "),
    });
  }
  if (!project || !canSeeProject(caller.user, project)) return send(res, 404, { message: "404 Project Not Found" });
  // `before { authorize_read_container_images! }`: Reporter, or anyone on a public project.
  if (!project.public && !hasRole(caller.user, project, "reporter")) return send(res, 403, { message: "403 Forbidden" });
  if (method === "GET") return list(req, res, records, caller, project);
  return remove(res, records, caller, project, repositoryId!);
}

function list(req: IncomingMessage, res: ServerResponse, records: RepositoryRecords, caller: RepositoryCaller, project: StoredProject): number {
  const query = new URL(req.url ?? "/", "http://standin").searchParams;
  const perPage = Math.min(100, Math.max(1, Number(query.get("per_page") ?? 20) || 20));
  const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
  const all = [...records.byId.values()].filter((record) => record.projectId === project.id).sort((a, b) => a.id - b.id);
  const shown = all.slice((page - 1) * perPage, page * perPage);
  const pages = Math.max(1, Math.ceil(all.length / perPage));
  const mayDelete = hasRole(caller.user, project, "maintainer");
  res.writeHead(200, {
    "content-type": "application/json",
    "x-page": String(page), "x-per-page": String(perPage), "x-total": String(all.length), "x-total-pages": String(pages),
    "x-next-page": page < pages ? String(page + 1) : "", "x-prev-page": page > 1 ? String(page - 1) : "",
  }).end(JSON.stringify(shown.map((record) => ({
    id: record.id,
    name: record.path === project.path ? "" : record.path.slice(project.path.length + 1),
    path: record.path,
    project_id: record.projectId,
    location: `${records.registryHost}/${record.path}`,
    created_at: record.createdAt,
    cleanup_policy_started_at: null,
    status: record.status,
    ...(mayDelete ? { delete_api_path: `/api/v4/projects/${project.id}/registry/repositories/${record.id}` } : {}),
  }))));
  return 200;
}

function remove(res: ServerResponse, records: RepositoryRecords, caller: RepositoryCaller, project: StoredProject, id: number): number {
  const record = records.byId.get(id);
  if (!record || record.projectId !== project.id) return send(res, 404, { message: "404 Not found" });
  if (!hasRole(caller.user, project, "maintainer")) return send(res, 403, { message: "403 Forbidden" });
  if (!caller.user?.admin && protectedFor(records.protection.get(project.path) ?? [], record.path, caller.user, project)) {
    return send(res, 403, { message: "403 Forbidden - Deleting protected container repository forbidden." });
  }
  record.status = "delete_scheduled";
  // GitLab's DeleteContainerRepositoryWorker runs later: the record is listed until then.
  setTimeout(() => records.byId.delete(id), records.deleteDelayMs).unref();
  // Grape renders an endpoint's last value, here the status it set.
  return send(res, 202, 202);
}

function protectedFor(rules: RepositoryProtectionRule[], path: string, user: StandinUser | undefined, project: StoredProject): boolean {
  const role = user ? project.members?.[user.username] : undefined;
  const level = role ? LEVEL[role] : 0;
  return rules.some((rule) => globMatches(rule.repositoryPathPattern, path) && LEVEL[rule.minimumAccessLevelForDelete] > level);
}

/** GitLab's repository path patterns: `*` matches anything, case-insensitively, the whole path. */
function globMatches(pattern: string, path: string): boolean {
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*");
  return new RegExp(`^${source}$`, "i").test(path);
}

function send(res: ServerResponse, status: number, body: unknown): number {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return status;
}
