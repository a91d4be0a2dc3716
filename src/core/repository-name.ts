/**
 * Repository names, validated against the distribution name grammar before any URL or scope
 * is built from them (a name read from disk is untrusted input).
 */

/** A repository name that matches the distribution grammar, e.g. `group/sub/project/image`. */
export type RepositoryName = string & { readonly __brand: "RepositoryName" };

// distribution/reference: path-component = alpha-numeric (separator alpha-numeric)*
// separator = [_.] | __ | [-]*
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** The registry refuses longer names. */
export const MAX_NAME_LENGTH = 255;

/** Returns the name, or undefined when it breaks the grammar. */
export function parseRepositoryName(text: string): RepositoryName | undefined {
  if (text.length === 0 || text.length > MAX_NAME_LENGTH) return undefined;
  for (const component of text.split("/")) {
    if (!COMPONENT.test(component)) return undefined;
  }
  return text as RepositoryName;
}

/** Says why `text` is not a valid repository name (for warnings), or undefined if it is valid. */
export function explainInvalidName(text: string): string | undefined {
  if (text.length === 0) return "the name is empty";
  if (text.length > MAX_NAME_LENGTH) return `the name is longer than ${MAX_NAME_LENGTH} characters`;
  const bad = text.split("/").find((component) => !COMPONENT.test(component));
  if (bad !== undefined) {
    return `the path element "${bad}" is not lowercase letters and digits joined by ".", "_", "__" or "-"`;
  }
  return undefined;
}

/**
 * The GitLab project paths that may own this repository, longest first. GitLab tries only the
 * three longest prefixes (GITLAB.md §3), the full name included, and never a 1-element prefix:
 * a project always sits in a namespace (ContainerRegistry::Path#nodes stops at 2), and asking
 * the API for a bare "123" would find the project with id 123. A 1-element name gets [].
 */
export function candidateProjectPaths(name: RepositoryName): string[] {
  const parts = name.split("/");
  const paths: string[] = [];
  for (let length = parts.length; length >= 2 && paths.length < 3; length--) {
    paths.push(parts.slice(0, length).join("/"));
  }
  return paths;
}
