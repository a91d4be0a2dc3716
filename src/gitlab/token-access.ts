/**
 * Reads the `access` claim of a registry token from GitLab: per repository, the actions granted
 * (denied ones are silently left out, GITLAB.md §1) and what each entry's `meta` says about
 * protected and immutable tags (GITLAB.md §12). The rest of `meta` (project path and ids) is not
 * needed here.
 */
import type { TagProtection } from "./ports.js";

/** What one token grants, by repository name. */
export interface TokenAccess {
  actions: Map<string, readonly string[]>;
  /** Only repositories whose entry carried tag patterns. */
  protection: Map<string, TagProtection>;
  /** It grants `registry:catalog:*`, which GitLab gives instance administrators only (GITLAB.md §1). */
  catalog: boolean;
}

/** Reads `access`, ignoring malformed entries (they grant nothing). */
export function readAccess(access: unknown): TokenAccess {
  const actions = new Map<string, readonly string[]>();
  const protection = new Map<string, TagProtection>();
  let catalog = false;
  for (const entry of Array.isArray(access) ? access : []) {
    if (entry?.type === "registry" && entry.name === "catalog" && Array.isArray(entry.actions)) catalog ||= entry.actions.includes("*");
    if (entry?.type !== "repository" || typeof entry.name !== "string" || !Array.isArray(entry.actions)) continue;
    const name: string = entry.name;
    const granted = entry.actions.filter((action: unknown): action is string => typeof action === "string");
    actions.set(name, [...(actions.get(name) ?? []), ...granted]);
    const patterns = tagPatterns(entry.meta);
    if (patterns) protection.set(name, merge(protection.get(name), patterns));
  }
  return { actions, protection, catalog };
}

/**
 * `meta.tag_deny_access_patterns` (`{"push": [...], "delete": [...]}`, one key per granted action)
 * and `meta.tag_immutable_patterns` (EE); undefined when the entry has neither.
 */
function tagPatterns(meta: unknown): TagProtection | undefined {
  if (typeof meta !== "object" || meta === null) return undefined;
  const { tag_deny_access_patterns: deny, tag_immutable_patterns: immutable } = meta as Record<string, unknown>;
  const denied = typeof deny === "object" && deny !== null ? (deny as Record<string, unknown>) : undefined;
  if (!denied && !Array.isArray(immutable)) return undefined;
  return { denyDelete: strings(denied?.delete), denyPush: strings(denied?.push), immutable: strings(immutable) };
}

function merge(earlier: TagProtection | undefined, later: TagProtection): TagProtection {
  if (!earlier) return later;
  const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
  return {
    denyDelete: union(earlier.denyDelete, later.denyDelete),
    denyPush: union(earlier.denyPush, later.denyPush),
    immutable: union(earlier.immutable, later.immutable),
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}
