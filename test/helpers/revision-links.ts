/** What "nothing was deleted" means on disk: the set of revision link files under a storage root. */
import { readdir } from "node:fs/promises";
import { join, sep } from "node:path";
import { repositoriesDir } from "../../src/storage/layout.js";

/** Every `<repo>/_manifests/revisions/<alg>/<hex>/link`, relative to the repositories dir, sorted. */
export async function revisionLinks(root: string): Promise<string[]> {
  const entries = await readdir(repositoriesDir(root), { recursive: true, withFileTypes: true });
  const marker = `${sep}_manifests${sep}revisions${sep}`;
  return entries
    .filter((entry) => entry.isFile() && entry.name === "link")
    .map((entry) => join(entry.parentPath, entry.name).slice(repositoriesDir(root).length + 1))
    .filter((path) => path.includes(marker))
    .sort();
}
