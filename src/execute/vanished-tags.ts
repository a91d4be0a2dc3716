/**
 * Which deleted manifest each tag that vanished during the deletes was on, from the push watch's
 * sightings (storage/push-watch.ts): what its link held when read, or else what the order of
 * the kernel's events leaves as the only possibility. Pure.
 */
import type { Digest } from "../core/digest.js";
import type { PushSighting } from "../storage/push-watch.js";

/**
 * Tags the watch saw appear or move that are gone now, and the deleted manifest each was on: the
 * one its link held when read, or else the deleted manifest whose revision link was written last
 * before the tag was first seen (a push writes the revision link just before the tag). A tag
 * whose manifest was not deleted by this run went some other way and is none of the run's business.
 */
export function vanishedTags(
  sightings: readonly PushSighting[], tagsNow: ReadonlyMap<string, Digest>, deleted: ReadonlySet<Digest>,
  tagsAtStart: ReadonlySet<string> = new Set(),
): { tags: Map<string, Digest>; unknown: string[] } {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const seen = new Map<string, number>();
  const read = new Map<string, Digest>();
  for (const sighting of sightings) {
    if (sighting.kind !== "tag" || tagsNow.has(sighting.tag)) continue;
    if (!first.has(sighting.tag)) first.set(sighting.tag, sighting.seq);
    last.set(sighting.tag, sighting.seq);
    seen.set(sighting.tag, (seen.get(sighting.tag) ?? 0) + 1);
    if (sighting.digest !== undefined) read.set(sighting.tag, sighting.digest);
  }
  const tags = new Map<string, Digest>();
  const unknown: string[] = [];
  for (const [tag, seq] of first) {
    // Unread, a tag is known to have vanished only when it was there before: seen appearing and
    // going, or on disk when the deletes began. One seen appearing only may be mid-push.
    const gone = (seen.get(tag) ?? 0) >= 2 || tagsAtStart.has(tag);
    if (!read.has(tag) && !gone) continue;
    const digest = read.get(tag) ?? pushedOnto(sightings, seq, last.get(tag)!, deleted);
    if (digest !== undefined && deleted.has(digest)) tags.set(tag, digest);
    else if (digest === undefined) unknown.push(tag);
  }
  return { tags, unknown };
}

/**
 * The deleted manifest a tag whose link was never read was pushed onto, when the sightings leave
 * one only: a push writes the revision link before the tag appears (`first`), and the DELETE that
 * took the tag removed that link after the push wrote it and before the tag went (`last`).
 * Several such manifests (pushes and deletes interleaved): undefined, the tag is unknown.
 */
function pushedOnto(sightings: readonly PushSighting[], first: number, last: number, deleted: ReadonlySet<Digest>): Digest | undefined {
  const written = new Map<Digest, number>();
  const candidates = new Set<Digest>();
  for (const sighting of sightings) {
    if (sighting.seq >= last) break;
    if (sighting.kind === "revision-written" && sighting.seq < first && deleted.has(sighting.digest)) written.set(sighting.digest, sighting.seq);
    else if (sighting.kind === "revision-renamed" && (written.get(sighting.digest) ?? Infinity) < sighting.seq) candidates.add(sighting.digest);
  }
  return candidates.size === 1 ? [...candidates][0] : undefined;
}
