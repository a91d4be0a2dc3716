/**
 * The sliver of GitLab's REST API (`/api/v4`) the tool uses through gitbeaker: who the token
 * belongs to, and project lookup by id or full path. Tokens only (GITLAB.md §2): a password, or
 * any unknown secret, is a 401.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { canSeeProject, userForToken, type StandinProject, type StandinUser } from "./gitlab-permissions.js";

/** The stand-in's mutable directory of users and projects. */
export interface StandinState {
  users: Map<string, StandinUser>;
  /** Stable numeric ids by username, assigned when a user is first added. */
  userIds: Map<string, number>;
  projects: Map<string, StandinProject & { id: number }>;
  nextId: number;
}

type Caller = { ok: true; user?: StandinUser; scopes: string[] } | { ok: false };

// Token scopes that may read through the REST API; read_user is enough for /user.
const API_SCOPES = ["api", "read_api"];
const USER_SCOPES = [...API_SCOPES, "read_user"];

/** Writes a JSON answer and returns the status, for logging. */
export function sendJson(res: ServerResponse, status: number, body: unknown): number {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return status;
}

/** Serves `/api/v4/...` from `state`; `baseUrl` builds `web_url`. */
export function handleApi(req: IncomingMessage, res: ServerResponse, state: StandinState, baseUrl: string): void {
  // Split the raw path: an id like `group%2Fproject` must stay one segment until decoded.
  const segments = (req.url ?? "/").split("?")[0]!.split("/").slice(3);
  const caller = identify(req, state);
  if (!caller.ok) {
    sendJson(res, 401, { message: "401 Unauthorized" });
    return;
  }
  if (req.method !== "GET") {
    sendJson(res, 404, { error: "404 Not Found" });
    return;
  }
  if (segments.length === 1 && segments[0] === "user") return currentUser(res, state, caller);
  if (segments.length === 2 && segments[0] === "projects") {
    return showProject(res, state, caller, decodeURIComponent(segments[1]!), baseUrl);
  }
  sendJson(res, 404, { error: "404 Not Found" });
}

function currentUser(res: ServerResponse, state: StandinState, caller: Caller & { ok: true }): void {
  if (!caller.user) {
    sendJson(res, 401, { message: "401 Unauthorized" });
    return;
  }
  if (!insufficientScope(res, caller, USER_SCOPES)) {
    const { username } = caller.user;
    const id = state.userIds.get(username);
    sendJson(res, 200, { id, username, name: username, state: "active", is_admin: caller.user.admin === true });
  }
}

function showProject(
  res: ServerResponse,
  state: StandinState,
  caller: Caller & { ok: true },
  id: string,
  baseUrl: string,
): void {
  if (insufficientScope(res, caller, API_SCOPES)) return;
  const project = /^\d+$/.test(id)
    ? [...state.projects.values()].find((p) => p.id === Number(id))
    : state.projects.get(id);
  // GitLab hides projects the caller cannot see behind the same 404 as missing ones.
  if (!project || !canSeeProject(caller.user, project)) {
    sendJson(res, 404, { message: "404 Project Not Found" });
    return;
  }
  const name = project.path.slice(project.path.lastIndexOf("/") + 1);
  const namespace = project.path.includes("/") ? project.path.slice(0, project.path.lastIndexOf("/")) : "";
  sendJson(res, 200, {
    id: project.id,
    name,
    path: name,
    path_with_namespace: project.path,
    name_with_namespace: project.path.split("/").join(" / "),
    namespace: { full_path: namespace, path: namespace.slice(namespace.lastIndexOf("/") + 1) },
    visibility: project.public ? "public" : "private",
    web_url: `${baseUrl}/${project.path}`,
    container_registry_enabled: true,
  });
}

/** Anonymous callers pass (they see public projects only); scoped tokens need one of `needed`. */
function insufficientScope(res: ServerResponse, caller: Caller & { ok: true }, needed: string[]): boolean {
  if (!caller.user || caller.scopes.some((scope) => needed.includes(scope))) return false;
  sendJson(res, 403, {
    error: "insufficient_scope",
    error_description: "The request requires higher privileges than provided by the access token.",
    scope: needed.join(" "),
  });
  return true;
}

function identify(req: IncomingMessage, state: StandinState): Caller {
  const privateToken = req.headers["private-token"];
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  const secret = typeof privateToken === "string" ? privateToken : bearer;
  if (secret === undefined) return { ok: true, scopes: [] };
  const found = userForToken(state.users.values(), secret);
  return found ? { ok: true, user: found.user, scopes: found.scopes } : { ok: false };
}
