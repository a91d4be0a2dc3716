/**
 * The sliver of GitLab's REST API (`/api/v4`) the tool uses through gitbeaker: who the token
 * belongs to, project lookup by id or full path (with its cleanup policy), and a project's
 * protected container tag rules, and its container repositories (gitlab-registry-repositories.ts). Tokens only (GITLAB.md §2): a password, or any unknown secret,
 * is a 401. Every request is logged for tests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  canSeeProject, hasRole, userForToken,
  type RoleThresholds, type StandinUser, type StoredProject,
} from "./gitlab-permissions.js";
import { answerRepositories, type RepositoryRecords } from "./gitlab-registry-repositories.js";
import { tagRuleJson } from "./gitlab-tag-rules.js";

/** The stand-in's mutable directory of users and projects, and its REST log. */
export interface StandinState {
  users: Map<string, StandinUser>;
  /** Stable numeric ids by username, assigned when a user is first added. */
  userIds: Map<string, number>;
  projects: Map<string, StoredProject>;
  /** Stable ids of top-level groups (or user namespaces) by path: `root_namespace_id`. */
  namespaceIds: Map<string, number>;
  nextId: number;
  thresholds: RoleThresholds;
  apiLog: ApiRequestRecord[];
  /** GitLab's records of container repositories. */
  repositories: RepositoryRecords;
}

/** What an `/api/v4` request asked for. */
export type ApiEndpoint = "user" | "project" | "tag-rules" | "registry-repositories" | "registry-repository" | "other";

/** One `/api/v4` request as the stand-in saw it. */
export interface ApiRequestRecord {
  method: string;
  endpoint: ApiEndpoint;
  /** The project id or path as sent (decoded), for project endpoints. */
  project?: string;
  /** The repository id, for `registry-repository`. */
  repositoryId?: number;
  /** The user the token resolved to, if any. */
  username?: string;
  status: number;
}

type Caller = { ok: true; user?: StandinUser; scopes: string[] } | { ok: false };
type Known = Caller & { ok: true };

// Token scopes that may read through the REST API (every GET accepts read_api); read_user is
// enough for /user.
const API_SCOPES = ["api", "read_api"];
const USER_SCOPES = [...API_SCOPES, "read_user"];
const DAY_MS = 86_400_000;
// ChronicDuration, which GitLab uses for cadences, counts a month as 30 days.
const CADENCE_MS: Record<string, number> = { "1d": DAY_MS, "7d": 7 * DAY_MS, "14d": 14 * DAY_MS, "1month": 30 * DAY_MS, "3month": 90 * DAY_MS };

/** Writes a JSON answer and returns the status, for logging. */
export function sendJson(res: ServerResponse, status: number, body: unknown): number {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return status;
}

/** Serves `/api/v4/...` from `state`; `baseUrl` builds `web_url`. */
export function handleApi(req: IncomingMessage, res: ServerResponse, state: StandinState, baseUrl: string): void {
  // Split the raw path: an id like `group%2Fproject` must stay one segment until decoded.
  const segments = (req.url ?? "/").split("?")[0]!.split("/").slice(3);
  const record: ApiRequestRecord = { method: req.method ?? "GET", ...route(segments), status: 0 };
  state.apiLog.push(record);
  const caller = identify(req, state);
  if (caller.ok && caller.user) record.username = caller.user.username;
  record.status = answer(req, res, state, caller, record, baseUrl);
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  state: StandinState,
  caller: Caller,
  record: ApiRequestRecord,
  baseUrl: string,
): number {
  if (!caller.ok) return sendJson(res, 401, { message: "401 Unauthorized" });
  if (record.endpoint === "registry-repositories" || record.endpoint === "registry-repository") {
    return answerRepositories(req, res, state.repositories, caller, projectById(state, record.project!), record.repositoryId);
  }
  if (req.method !== "GET") return sendJson(res, 404, { error: "404 Not Found" });
  switch (record.endpoint) {
    case "user":
      return currentUser(res, state, caller);
    case "project":
      return showProject(res, state, caller, record.project!, baseUrl);
    case "tag-rules":
      return tagRules(res, state, caller, record.project!);
    default:
      return sendJson(res, 404, { error: "404 Not Found" });
  }
}

function route(segments: string[]): Pick<ApiRequestRecord, "endpoint" | "project" | "repositoryId"> {
  if (segments.length === 1 && segments[0] === "user") return { endpoint: "user" };
  if (segments[0] !== "projects" || segments[1] === undefined) return { endpoint: "other" };
  const project = decodeURIComponent(segments[1]);
  if (segments.length === 2) return { endpoint: "project", project };
  if (segments.slice(2).join("/") === "registry/protection/tag/rules") return { endpoint: "tag-rules", project };
  if (segments[2] === "registry" && segments[3] === "repositories") {
    if (segments.length === 4) return { endpoint: "registry-repositories", project };
    if (segments.length === 5 && /^\d+$/.test(segments[4]!)) return { endpoint: "registry-repository", project, repositoryId: Number(segments[4]) };
  }
  return { endpoint: "other" };
}

function currentUser(res: ServerResponse, state: StandinState, caller: Known): number {
  if (!caller.user) return sendJson(res, 401, { message: "401 Unauthorized" });
  const refused = insufficientScope(res, caller, USER_SCOPES);
  if (refused) return refused;
  const { username } = caller.user;
  const id = state.userIds.get(username);
  return sendJson(res, 200, { id, username, name: username, state: "active", is_admin: caller.user.admin === true });
}

function showProject(res: ServerResponse, state: StandinState, caller: Known, id: string, baseUrl: string): number {
  const refused = insufficientScope(res, caller, API_SCOPES);
  if (refused) return refused;
  const project = visibleProject(state, caller, id);
  if (!project) return projectNotFound(res);
  const name = project.path.slice(project.path.lastIndexOf("/") + 1);
  const namespace = project.path.includes("/") ? project.path.slice(0, project.path.lastIndexOf("/")) : "";
  // Anonymous callers get Entities::ProjectDetails, which has no cleanup policy; anyone
  // signed in gets Entities::ProjectWithAccess, which has it whenever the project has one.
  const policy = caller.user ? expirationPolicyJson(project) : undefined;
  return sendJson(res, 200, {
    id: project.id,
    name,
    path: name,
    path_with_namespace: project.path,
    name_with_namespace: project.path.split("/").join(" / "),
    namespace: { full_path: namespace, path: namespace.slice(namespace.lastIndexOf("/") + 1) },
    visibility: project.public ? "public" : "private",
    web_url: `${baseUrl}/${project.path}`,
    container_registry_enabled: true,
    ...(policy ? { container_expiration_policy: policy } : {}),
  });
}

/**
 * `GET /projects/:id/registry/protection/tag/rules` (GitLab 18.7+): signed-in callers only, the
 * project must be visible (else 404), and listing needs `admin_container_image`, which is the
 * Maintainer role (else 403). Immutable rules are not listed.
 */
function tagRules(res: ServerResponse, state: StandinState, caller: Known, id: string): number {
  if (!caller.user) return sendJson(res, 401, { message: "401 Unauthorized" });
  const refused = insufficientScope(res, caller, API_SCOPES);
  if (refused) return refused;
  const project = visibleProject(state, caller, id);
  if (!project) return projectNotFound(res);
  if (!hasRole(caller.user, project, state.thresholds.all)) return sendJson(res, 403, { message: "403 Forbidden" });
  return sendJson(res, 200, project.tagRules.flatMap((rule) => tagRuleJson(rule, project.id) ?? []));
}

/** GitLab's Entities::ContainerExpirationPolicy, or undefined when the project has no record. */
function expirationPolicyJson(project: StoredProject): Record<string, unknown> | undefined {
  if (project.expirationPolicy === null) return undefined;
  const policy = { enabled: false, cadence: "1d", keepN: 10, olderThan: "90d", nameRegex: ".*", nameRegexKeep: null, ...project.expirationPolicy };
  const nextRunAt = policy.nextRunAt !== undefined ? policy.nextRunAt
    : new Date(project.createdAt + (CADENCE_MS[policy.cadence] ?? DAY_MS)).toISOString();
  return {
    cadence: policy.cadence,
    enabled: policy.enabled,
    keep_n: policy.keepN,
    older_than: policy.olderThan,
    name_regex: policy.nameRegex,
    name_regex_delete: policy.nameRegex,
    name_regex_keep: policy.nameRegexKeep,
    next_run_at: nextRunAt,
  };
}

/** By numeric id or full path; GitLab hides projects the caller cannot see behind a 404. */
function visibleProject(state: StandinState, caller: Known, id: string): StoredProject | undefined {
  const project = projectById(state, id);
  return project && canSeeProject(caller.user, project) ? project : undefined;
}

function projectById(state: StandinState, id: string): StoredProject | undefined {
  return /^\d+$/.test(id) ? [...state.projects.values()].find((p) => p.id === Number(id)) : state.projects.get(id);
}

function projectNotFound(res: ServerResponse): number {
  return sendJson(res, 404, { message: "404 Project Not Found" });
}

/** Anonymous callers pass (they see public projects only); scoped tokens need one of `needed`. */
function insufficientScope(res: ServerResponse, caller: Known, needed: string[]): number | undefined {
  if (!caller.user || caller.scopes.some((scope) => needed.includes(scope))) return undefined;
  return sendJson(res, 403, {
    error: "insufficient_scope",
    error_description: "The request requires higher privileges than provided by the access token.",
    scope: needed.join(" "),
  });
}

function identify(req: IncomingMessage, state: StandinState): Caller {
  const privateToken = req.headers["private-token"];
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  const secret = typeof privateToken === "string" ? privateToken : bearer;
  if (secret === undefined) return { ok: true, scopes: [] };
  const found = userForToken(state.users.values(), secret);
  return found ? { ok: true, user: found.user, scopes: found.scopes } : { ok: false };
}
