/**
 * The GitLab rules the stand-in applies to /jwt/auth (GITLAB.md §1-§3, §12): who a Basic
 * credential is, what that kind of credential may ever do in the registry, which project owns a
 * repository path, which requested actions survive, and the tag patterns each entry carries.
 * Pure functions over plain data.
 */
import { accessMeta, type AccessMeta, type StandinTagRule, type StoredTagRule } from "./gitlab-tag-rules.js";

export type Role = "guest" | "reporter" | "developer" | "maintainer" | "owner";

/** A personal access token and its scopes (`api`, `read_api`, `read_registry`, `write_registry`, …). */
export interface StandinToken {
  token: string;
  scopes: string[];
}

export interface StandinUser {
  username: string;
  password: string;
  admin?: boolean;
  /** Two-factor accounts cannot log in to /jwt/auth with their password: they need a PAT. */
  twoFactor?: boolean;
  tokens?: StandinToken[];
}

export interface StandinProject {
  /** Full path, e.g. `group/sub/project`. */
  path: string;
  /** Numeric id for the REST API; assigned by the stand-in when absent. */
  id?: number;
  members?: Record<string, Role>;
  /** Anyone, even anonymous, may pull; everyone can see it through the REST API. */
  public?: boolean;
  /**
   * Its cleanup policy (`container_expiration_policy`), each field over GitLab's defaults for a
   * new project (disabled, `1d`, keep 10, older than `90d`, `.*`). `null`: no policy record at
   * all (projects from before GitLab 12.8), so the REST API shows none.
   */
  expirationPolicy?: StandinExpirationPolicy | null;
  /** Protected and (EE) immutable tag rules, in creation order; GitLab allows 5 per project. */
  tagProtection?: StandinTagRule[];
  /**
   * False: the project's container registry is disabled, and GitLab grants no registry action
   * there to anyone, administrators included (`can_access?` checks `container_registry_enabled?` first).
   */
  containerRegistryEnabled?: boolean;
}

/** A cleanup policy with GitLab's field meanings, in camelCase; omitted fields take the defaults. */
export interface StandinExpirationPolicy {
  enabled?: boolean;
  /** `1d`, `7d`, `14d`, `1month` or `3month`. */
  cadence?: string;
  /** 1, 5, 10, 25, 50, 100, or null for no keep rule. */
  keepN?: number | null;
  /** `7d`, `14d`, `30d`, `60d`, `90d`, or null for no age rule. */
  olderThan?: string | null;
  /** Shown as both `name_regex` and `name_regex_delete`. */
  nameRegex?: string | null;
  nameRegexKeep?: string | null;
  /** ISO time; default: when the stand-in stored the project plus the cadence. */
  nextRunAt?: string | null;
}

/** A project as the stand-in keeps it: with its ids and its numbered tag rules. */
export interface StoredProject extends StandinProject {
  id: number;
  rootNamespaceId: number;
  tagRules: StoredTagRule[];
  /** When it was stored (ms), from which the default `next_run_at` is counted. */
  createdAt: number;
}

/** What a credential kind may ever do in the registry, whatever the user's role. */
export type RegistryAbility = "read" | "create" | "destroy" | "admin";

/** Who asks, and what their kind of credential allows. */
export interface Identity {
  user?: StandinUser;
  abilities: ReadonlySet<RegistryAbility>;
  /** `password` or `token`; `anonymous` without a Basic header. */
  via: "anonymous" | "password" | "token";
}

/** Either an identity or the HTTP status GitLab refuses with. */
export type AuthOutcome = { ok: true; identity: Identity } | { ok: false; status: 401 | 403 };

/** One `access[]` entry of a registry token. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
  /** GitLab's project metadata and tag patterns (see gitlab-tag-rules.ts). */
  meta?: AccessMeta;
}

/** Per-action role thresholds. GITLAB.md §2 says Maintainer for delete; configurable to try others. */
export interface RoleThresholds {
  pull: Role;
  push: Role;
  delete: Role;
  all: Role;
}

export const DEFAULT_THRESHOLDS: RoleThresholds = {
  pull: "reporter",
  push: "developer",
  delete: "maintainer",
  all: "maintainer",
};

const RANK: Record<Role, number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 };
const FULL: RegistryAbility[] = ["read", "create", "destroy", "admin"];
// GitLab's abilities_for_scopes: read_api is read-only (pull); write_registry pushes (the brief and
// GITLAB.md §2 grant it pull too); scopes outside this table carry no registry ability at all.
const SCOPE_ABILITIES: Record<string, RegistryAbility[]> = {
  api: FULL,
  read_api: ["read"],
  read_registry: ["read"],
  write_registry: ["read", "create"],
};
const REGISTRY_LOGIN = new Set<RegistryAbility>(FULL);

/**
 * Resolves an `Authorization` header of /jwt/auth. A PAT is recognised by its value alone (the
 * Basic username is ignored, as GitLab does); a password login of a 2FA account is a 401; a
 * credential without any registry ability is a 403.
 */
export function authenticateBasic(users: Iterable<StandinUser>, header: string | undefined): AuthOutcome {
  // Like Rails' authenticate_with_http_basic: no header, or another scheme, is anonymous, which
  // GitLab gives read-only abilities (pull of public projects).
  if (header === undefined || !/^Basic\s/i.test(header.trim())) {
    return { ok: true, identity: { abilities: new Set(["read"]), via: "anonymous" } };
  }
  const basic = parseBasic(header);
  if (!basic) return { ok: false, status: 401 };
  const all = [...users];
  for (const user of all) {
    const token = user.tokens?.find((t) => t.token === basic.secret);
    if (!token) continue;
    const abilities = new Set(token.scopes.flatMap((scope) => SCOPE_ABILITIES[scope] ?? []));
    if (![...abilities].some((a) => REGISTRY_LOGIN.has(a))) return { ok: false, status: 403 };
    return { ok: true, identity: { user, abilities, via: "token" } };
  }
  const user = all.find((u) => u.username === basic.username && u.password === basic.secret);
  if (!user || user.twoFactor) return { ok: false, status: 401 };
  return { ok: true, identity: { user, abilities: new Set(FULL), via: "password" } };
}

/** Finds a user by a REST API token value (PRIVATE-TOKEN or Bearer); passwords are not accepted. */
export function userForToken(users: Iterable<StandinUser>, secret: string): { user: StandinUser; scopes: string[] } | undefined {
  for (const user of users) {
    const token = user.tokens?.find((t) => t.token === secret);
    if (token) return { user, scopes: token.scopes };
  }
  return undefined;
}

/** Splits `scope` query values: repeatable, and space-separated inside one value. */
export function splitScopes(values: string[]): string[] {
  return values.flatMap((value) => value.split(" ")).filter((scope) => scope !== "");
}

/**
 * The access a token grants for the requested scopes; scopes with nothing granted are left out.
 * GitLab gives every repository entry a `meta` with the project's path and ids; the stand-in
 * does so for projects with tag rules (their patterns live there), and for all with `metadata`.
 */
export function accessFor(
  identity: Identity,
  projects: Iterable<StoredProject>,
  scopes: string[],
  thresholds: RoleThresholds = DEFAULT_THRESHOLDS,
  options: { metadata?: boolean } = {},
): AccessEntry[] {
  const all = [...projects];
  const entries: AccessEntry[] = [];
  for (const scope of scopes) {
    const entry = processScope(identity, all, scope, thresholds, options.metadata === true);
    if (entry && entry.actions.length > 0) entries.push(entry);
  }
  return entries;
}

/**
 * The project owning a repository path: only the three longest path prefixes are tried, the full
 * path first (GITLAB.md §3). Undefined for orphans.
 */
export function resolveProject<P extends StandinProject>(projects: Iterable<P>, repository: string): P | undefined {
  const parts = repository.split("/");
  const all = [...projects];
  for (let length = parts.length; length >= Math.max(1, parts.length - 2); length--) {
    const candidate = parts.slice(0, length).join("/");
    const project = all.find((p) => p.path === candidate);
    if (project) return project;
  }
  return undefined;
}

/** True when the user may see the project through the REST API. */
export function canSeeProject(user: StandinUser | undefined, project: StandinProject): boolean {
  return project.public === true || user?.admin === true || (user !== undefined && project.members?.[user.username] !== undefined);
}

function processScope(
  identity: Identity,
  projects: StoredProject[],
  scope: string,
  thresholds: RoleThresholds,
  metadata: boolean,
): AccessEntry | undefined {
  // GitLab splits with a limit of 3: `type:name:actions`, extra colons stay in the actions.
  const first = scope.indexOf(":");
  const second = scope.indexOf(":", first + 1);
  if (first < 0 || second < 0) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, second);
  const actions = scope.slice(second + 1).split(",");
  if (type === "registry") {
    const allowed = identity.user?.admin === true && name === "catalog" && actions.length === 1 && actions[0] === "*";
    return allowed ? { type, name, actions: ["*"] } : undefined;
  }
  if (type !== "repository") return undefined;
  const project = resolveProject(projects, name);
  if (!project || project.containerRegistryEnabled === false) return undefined;
  const granted = [...new Set(actions.filter((action) => mayDo(identity, project, action, thresholds)))];
  if (!metadata && project.tagRules.length === 0) return { type, name, actions: granted };
  const role = identity.user ? project.members?.[identity.user.username] : undefined;
  return { type, name, actions: granted, meta: accessMeta(project, identity.user, role, granted) };
}

function mayDo(identity: Identity, project: StandinProject, action: string, thresholds: RoleThresholds): boolean {
  const { abilities, user } = identity;
  switch (action) {
    case "pull":
      return abilities.has("read") && (project.public === true || hasRole(user, project, thresholds.pull));
    case "push":
      return abilities.has("create") && hasRole(user, project, thresholds.push);
    case "delete":
      return abilities.has("destroy") && hasRole(user, project, thresholds.delete);
    case "*":
      return abilities.has("admin") && hasRole(user, project, thresholds.all);
    default:
      return false;
  }
}

/** True for admins and for members with at least `minimum` in the project. */
export function hasRole(user: StandinUser | undefined, project: StandinProject, minimum: Role): boolean {
  if (!user) return false;
  if (user.admin) return true;
  const role = project.members?.[user.username];
  return role !== undefined && RANK[role] >= RANK[minimum];
}

function parseBasic(header: string): { username: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}
