/**
 * Protected and immutable container tags as GitLab keeps them per project (GITLAB.md §12): the
 * rules its REST API lists, and the `meta` that Auth::ContainerRegistryAuthenticationService puts
 * into each `access[]` entry of a registry token. Pure functions over plain data.
 *
 * From GitLab's source: `tag_deny_access_patterns` has one key per granted action other than
 * `pull` (`*` counts as push and delete), each listing the patterns of the mutable rules whose
 * minimum level for that action is above the user's role; admins get the keys with empty lists;
 * no user, or no rule in the project, leaves the field out. `tag_immutable_patterns` (EE) lists
 * the immutable rules' patterns, admins included, when push, delete or `*` was granted.
 */
import type { Role, StandinUser } from "./gitlab-permissions.js";

/** The minimum roles a protection rule may name (GitLab's TagRule::ACCESS_LEVELS). */
export type ProtectionLevel = "maintainer" | "owner" | "admin";

/**
 * A rule as a test declares it: protected (both minimum levels) or, EE, immutable (no levels:
 * nobody may push over or delete a matching tag).
 */
export type StandinTagRule =
  | {
      tagNamePattern: string;
      minimumAccessLevelForPush: ProtectionLevel;
      minimumAccessLevelForDelete: ProtectionLevel;
      immutable?: false;
    }
  | { tagNamePattern: string; immutable: true };

/** A rule with the id GitLab gave it. */
export type StoredTagRule = StandinTagRule & { id: number };

/** The `meta` of one access entry, with GitLab's field names. */
export interface AccessMeta {
  project_path: string;
  project_id: number;
  root_namespace_id: number;
  tag_deny_access_patterns?: Record<string, string[]>;
  tag_immutable_patterns?: string[];
}

// Gitlab::Access levels; admin is above owner (sym_options_with_admin).
const LEVEL: Record<Role | "admin", number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50, admin: 60 };

/** The project metadata GitLab adds to an access entry, with the tag patterns for this user. */
export function accessMeta(
  project: { path: string; id: number; rootNamespaceId: number; tagRules: readonly StoredTagRule[] },
  user: StandinUser | undefined,
  role: Role | undefined,
  granted: readonly string[],
): AccessMeta {
  const deny = denyPatterns(project.tagRules, user, role, granted);
  const immutable = immutablePatterns(project.tagRules, granted);
  return {
    project_path: project.path.toLowerCase(),
    project_id: project.id,
    root_namespace_id: project.rootNamespaceId,
    ...(deny ? { tag_deny_access_patterns: deny } : {}),
    ...(immutable ? { tag_immutable_patterns: immutable } : {}),
  };
}

/** The REST answer for one rule. GitLab's list leaves immutable rules out (`.mutable`). */
export function tagRuleJson(rule: StoredTagRule, projectId: number): Record<string, unknown> | undefined {
  if (rule.immutable) return undefined;
  return {
    id: rule.id,
    project_id: projectId,
    tag_name_pattern: rule.tagNamePattern,
    minimum_access_level_for_push: rule.minimumAccessLevelForPush,
    minimum_access_level_for_delete: rule.minimumAccessLevelForDelete,
  };
}

function denyPatterns(
  rules: readonly StoredTagRule[],
  user: StandinUser | undefined,
  role: Role | undefined,
  granted: readonly string[],
): Record<string, string[]> | undefined {
  if (!user || rules.length === 0) return undefined;
  const actions = granted.includes("*") ? ["push", "delete"] : [...new Set(granted)].filter((action) => action !== "pull");
  const patterns: Record<string, string[]> = Object.fromEntries(actions.map((action) => [action, []]));
  // The registry expects a list for every granted action, even for admins, who are never denied.
  if (user.admin) return patterns;
  const level = role ? LEVEL[role] : 0;
  for (const rule of rules) {
    if (rule.immutable) continue;
    if (patterns.push && LEVEL[rule.minimumAccessLevelForPush] > level) patterns.push.push(rule.tagNamePattern);
    if (patterns.delete && LEVEL[rule.minimumAccessLevelForDelete] > level) patterns.delete.push(rule.tagNamePattern);
  }
  return patterns;
}

function immutablePatterns(rules: readonly StoredTagRule[], granted: readonly string[]): string[] | undefined {
  if (!granted.some((action) => action === "push" || action === "delete" || action === "*")) return undefined;
  const patterns = rules.filter((rule) => rule.immutable).map((rule) => rule.tagNamePattern);
  return patterns.length > 0 ? patterns : undefined;
}
