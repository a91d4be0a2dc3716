/**
 * The floor of a dry run (issue 15): a plain synchronous walk, in its own process, that reads
 * every file the plan needs and stats every blob (what the space estimate needs), and does
 * nothing else: no parsing beyond taking the digest out of a link, no validation, no planning.
 *
 *   node .build/bench/sync-walk.js <storage root>
 *
 * prints one JSON line: wall time, CPU time (user + system) and peak RSS, and what it touched.
 * Written the fastest plain way (readdirSync, readFileSync, statSync), not the tool's way.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

export interface SyncWalkResult {
  ms: number;
  cpuMs: number;
  maxRssKb: number;
  repositories: number;
  /** Revision links read, and the manifest blobs they name. */
  manifests: number;
  tags: number;
  /** Blob `data` files stat'ed. */
  blobs: number;
  blobBytes: number;
}

/** Walks `root` (the folder holding `docker/registry/v2`) and reports what it did. */
export function syncWalk(root: string): SyncWalkResult {
  const started = performance.now();
  const v2 = `${root}/docker/registry/v2`;
  const blobs = `${v2}/blobs/sha256`;
  const counts = { repositories: 0, manifests: 0, tags: 0, blobs: 0, blobBytes: 0 };
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name === "_manifests") readRepository(`${dir}/_manifests`);
      else if (!entry.name.startsWith("_")) visit(`${dir}/${entry.name}`);
    }
  };
  const readRepository = (manifests: string): void => {
    counts.repositories++;
    const revisions = `${manifests}/revisions/sha256`;
    for (const hex of readdirSync(revisions)) {
      let link: string;
      try {
        link = readFileSync(`${revisions}/${hex}/link`, "latin1");
      } catch {
        continue; // a deleted revision keeps its folder, not its link
      }
      const blob = link.slice(link.indexOf(":") + 1);
      readFileSync(`${blobs}/${blob.slice(0, 2)}/${blob}/data`);
      counts.manifests++;
    }
    const tags = `${manifests}/tags`;
    for (const tag of readdirSync(tags)) {
      readFileSync(`${tags}/${tag}/current/link`);
      counts.tags++;
    }
  };
  visit(`${v2}/repositories`);
  for (const prefix of readdirSync(blobs)) {
    for (const hex of readdirSync(`${blobs}/${prefix}`)) {
      counts.blobBytes += statSync(`${blobs}/${prefix}/${hex}/data`).size;
      counts.blobs++;
    }
  }
  const ms = performance.now() - started;
  const usage = process.resourceUsage();
  return { ms, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, maxRssKb: usage.maxRSS, ...counts };
}

if (process.argv[1]?.endsWith("/bench/sync-walk.js")) {
  const root = process.argv[2];
  if (!root) throw new Error("usage: sync-walk.js <storage root>");
  process.stdout.write(`${JSON.stringify(syncWalk(root))}\n`);
}
