/**
 * Clients that keep pushing while a cleanup deletes, aimed at the manifests it is about to delete
 * (or has just deleted), and the record of every push the registry accepted: what each tag must
 * resolve to afterwards, and which children an index needs.
 *
 * Which client does what, and why:
 * - re-tags of candidates run both ways: skopeo (`copy docker://…@sha256:… docker://…:tag`, a real
 *   client) and a bare PUT of the manifest bytes by tag. A skopeo copy costs a process and a few
 *   round trips (~100 ms or more), far longer than the tens of milliseconds between a re-check and
 *   its DELETE, so the PUT is what lands in that window often enough.
 * - indexes over old children are PUTs (children by digest, then the index by tag): skopeo copies
 *   indexes that exist somewhere, it cannot compose a new one out of manifests already pushed.
 * - tags of just-deleted digests are PUTs of the bytes the client still has: the registry no
 *   longer serves the manifest, so skopeo would have nothing to copy from.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { PushedManifest } from "./images.js";
import { pushIndex, tagManifest, pushUntagged } from "./images.js";
import type { PushContext } from "./registry-http.js";
import { SKOPEO_BINARY } from "./skopeo.js";

const execFileAsync = promisify(execFile);

export type PushKind = "retag-http" | "retag-skopeo" | "index" | "deleted-tag";

/** A push the registry accepted: `tag` must resolve to `digest`, and `children` must stay. */
export interface RecordedPush {
  kind: PushKind;
  repo: string;
  tag: string;
  digest: string;
  children: string[];
  /** When the registry answered it (performance.now() ms), to tell the order of events in a report. */
  at?: number;
}

/** A push the registry (or skopeo's source) refused, and whether its one retry went through. */
export interface RefusedPush {
  kind: PushKind;
  repo: string;
  tag: string;
  reason: string;
  retried: "succeeded" | "refused again";
}

/** What the racers did, filled in while they run. */
export interface RaceLog {
  pushes: RecordedPush[];
  refused: RefusedPush[];
  /** skopeo copies whose source was deleted before skopeo read it: nothing was pushed, nothing to check. */
  sourceGone: number;
}

/** The cleanup as the racers see it: its repositories' candidates (in deletion order) and its progress. */
export interface RaceTarget {
  ctx: PushContext;
  /** Untagged manifests of each repository, sorted by digest (the order the cleanup deletes in). */
  candidates: Map<string, PushedManifest[]>;
  /** Host of the registry for skopeo references, and `user:secret`. */
  host: string;
  creds: string;
  /** Index in `candidates` of the last manifest seen deleted, per repository (-1 before the first). */
  progress: Map<string, number>;
  /** True once the CLI exited. */
  done(): boolean;
}

/** Runs the racers until the CLI exits; `onDeleted` registers the listener called on each `Deleted image` line. */
export async function race(target: RaceTarget, onDeleted: (listener: (repo: string, digest: string) => void) => void, label: string): Promise<RaceLog> {
  const log: RaceLog = { pushes: [], refused: [], sourceGone: 0 };
  let serial = 0;
  const tag = (kind: string): string => `${label}-${kind}-${++serial}`;
  const deletedTags: Array<Promise<void>> = [];
  let deletions = 0;
  onDeleted((repo, digest) => {
    const manifest = target.candidates.get(repo)?.find((m) => m.digest === digest);
    // Every third: a tag on each would re-push every deleted manifest, and with it every one a
    // re-tag above lost in the window; the run must also be seen repairing with nothing re-pushed.
    if (!manifest || deletions++ % 3 !== 0) return;
    // Right away, no pacing: the point is a tag landing on the digest just deleted.
    deletedTags.push(attempt(log, { kind: "deleted-tag", repo, tag: tag("c"), digest, children: [] },
      (t) => tagManifest(target.ctx, repo, t, manifest).then(() => undefined)));
  });
  const repos = [...target.candidates.keys()];
  const loop = async (pause: number, step: (repo: string) => Promise<void>): Promise<void> => {
    for (let round = 0; !target.done(); round++) {
      await step(repos[round % repos.length]!);
      await delay(Math.max(pause, 1));
    }
  };
  const ahead = (repo: string, from: number, spread: number): PushedManifest | undefined => {
    // Only once deletes run there: a push before the CLI compared its tags with the registry's makes it skip the repository.
    const at = target.progress.get(repo);
    if (at === undefined) return undefined;
    return target.candidates.get(repo)![at + from + Math.floor(Math.random() * spread)];
  };
  await Promise.all([
    // (a) over HTTP: one of the next few to be deleted, most likely in the batch now in flight.
    loop(15, async (repo) => {
      const m = ahead(repo, 1, 5);
      if (m) await attempt(log, { kind: "retag-http", repo, tag: tag("a"), digest: m.digest, children: [] }, (t) => tagManifest(target.ctx, repo, t, m).then(() => undefined));
    }),
    // (a) with skopeo: further ahead, since a copy takes longer than a batch.
    loop(0, async (repo) => {
      const m = ahead(repo, 6, 12);
      if (m) await skopeoRetag(target, log, repo, tag("s"), m);
    }),
    // (b) children again by digest, then the index by tag, as a multi-arch push does.
    loop(30, async (repo) => {
      const children = [ahead(repo, 1, 4), ahead(repo, 2, 4)].filter((m): m is PushedManifest => m !== undefined);
      if (new Set(children.map((c) => c.digest)).size !== 2) return;
      const push = { kind: "index" as const, repo, tag: tag("b"), digest: "", children: children.map((c) => c.digest) };
      await attempt(log, push, async (t) => {
        for (const child of children) await pushUntagged(target.ctx, repo, child.bytes, child.mediaType);
        const index = await pushIndex(target.ctx, repo, children.map((c, i) => ({ ...c.descriptor, platform: PLATFORMS[i]! })), { tag: t, format: "docker" });
        push.digest = index.digest;
      });
    }),
  ]);
  await Promise.all(deletedTags);
  return log;
}

const PLATFORMS = [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }];

/**
 * Runs `push` with the push's tag; on a refusal, once more; records the outcome. An error for
 * which `noPush` holds means nothing was pushed (skopeo found no source): counted, not retried.
 */
async function attempt(log: RaceLog, push: RecordedPush, run: (tag: string) => Promise<void>, noPush?: (error: unknown) => boolean): Promise<void> {
  try {
    await run(push.tag);
    log.pushes.push({ ...push, at: performance.now() });
    return;
  } catch (error) {
    if (noPush?.(error)) {
      log.sourceGone++;
      return;
    }
    const reason = firstLine(error);
    try {
      await run(push.tag);
      log.pushes.push({ ...push, at: performance.now() });
      log.refused.push({ kind: push.kind, repo: push.repo, tag: push.tag, reason, retried: "succeeded" });
    } catch (again) {
      log.refused.push({ kind: push.kind, repo: push.repo, tag: push.tag, reason: `${reason}; again: ${firstLine(again)}`, retried: "refused again" });
    }
  }
}

/**
 * `skopeo copy docker://host/repo@digest docker://host/repo:tag`, retried once when refused. A
 * source the cleanup deleted before skopeo read it is no push at all: counted, not retried.
 */
async function skopeoRetag(target: RaceTarget, log: RaceLog, repo: string, tag: string, m: PushedManifest): Promise<void> {
  const args = [
    "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", target.creds, "--dest-creds", target.creds,
    `docker://${target.host}/${repo}@${m.digest}`, `docker://${target.host}/${repo}:${tag}`,
  ];
  await attempt(log, { kind: "retag-skopeo", repo, tag, digest: m.digest, children: [] }, async () => {
    try {
      await execFileAsync(SKOPEO_BINARY, args, { timeout: 60_000 });
    } catch (error) {
      // Never the error itself: its message repeats the command line, credentials included.
      const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
      throw new Error(stderr.split("\n").at(-1) || "skopeo failed");
    }
  }, (error) => /reading manifest[^\n]*manifest unknown/i.test(error instanceof Error ? error.message : ""));
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 300);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
