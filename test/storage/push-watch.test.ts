/**
 * The push watch on a real filesystem (inotify): the writes a push makes and the removals a
 * DELETE makes, in the registry's order, become sightings in that order.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FilesystemDriver } from "../../src/storage/filesystem-driver.js";
import { watchRepository, type RepositoryWatch } from "../../src/storage/push-watch.js";
import { fakeDigest } from "../helpers/plan-builders.js";

const REPO = "group/project";
const candidate = fakeDigest("candidate");
const hex = candidate.slice("sha256:".length);
let root: string;
let manifests: string;
let watch: RepositoryWatch | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "push-watch-"));
  manifests = join(root, "docker/registry/v2/repositories", REPO, "_manifests");
  await mkdir(join(manifests, "revisions/sha256", hex), { recursive: true });
  await writeFile(join(manifests, "revisions/sha256", hex, "link"), candidate);
});

afterEach(async () => {
  watch?.close();
  await rm(root, { recursive: true, force: true });
});

/** What distribution writes for a push of `tag` onto `digest`: revision link, tag index, current link. */
async function pushTag(tag: string, digest: string): Promise<void> {
  const digestHex = digest.slice("sha256:".length);
  await writeFile(join(manifests, "revisions/sha256", digestHex, "link"), digest);
  await mkdir(join(manifests, "tags", tag, "index/sha256", digestHex), { recursive: true });
  await writeFile(join(manifests, "tags", tag, "index/sha256", digestHex, "link"), digest);
  await mkdir(join(manifests, "tags", tag, "current"), { recursive: true });
  await writeFile(join(manifests, "tags", tag, "current/link"), digest);
}

/** What the registry's DELETE of `digest` does when `tag` points at it: unlink, then untag. */
async function deleteManifest(digest: string, tag: string): Promise<void> {
  await rm(join(manifests, "revisions/sha256", digest.slice("sha256:".length), "link"));
  await rm(join(manifests, "tags", tag), { recursive: true });
}

async function quiet(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  await watch!.settled();
}

describe("watchRepository on a filesystem", () => {
  it("sees a tag pushed onto a watched candidate and removed by its DELETE, in order", async () => {
    await mkdir(join(manifests, "tags"), { recursive: true });
    watch = watchRepository(new FilesystemDriver(root), REPO, Date.now)!;
    watch.watchRevisions([candidate]);
    await pushTag("v2", candidate);
    await deleteManifest(candidate, "v2");
    await quiet();
    const kinds = watch.sightings.map((s) => (s.kind === "tag" ? `tag ${s.tag}` : `written ${s.digest === candidate}`));
    expect(kinds[0]).toBe("written true");
    expect(kinds.slice(1)).toContain("tag v2");
    expect(watch.sightings.map((s) => s.seq)).toEqual(watch.sightings.map((_, i) => i + 1));
    expect(watch.problem).toBeUndefined();
  });

  it("reads the tag's link when it is still there", async () => {
    await mkdir(join(manifests, "tags"), { recursive: true });
    watch = watchRepository(new FilesystemDriver(root), REPO, Date.now)!;
    await pushTag("v3", candidate);
    await quiet();
    const tag = watch.sightings.find((s) => s.kind === "tag");
    expect(tag).toMatchObject({ tag: "v3", digest: candidate });
  });

  it("sees the first tag of a repository that had none (no tags folder yet)", async () => {
    watch = watchRepository(new FilesystemDriver(root), REPO, Date.now)!;
    await pushTag("first", candidate);
    await quiet();
    expect(watch.sightings.some((s) => s.kind === "tag" && s.tag === "first")).toBe(true);
  });

  it("reports the DELETE's own removal of a revision link as a removal, not a push", async () => {
    watch = watchRepository(new FilesystemDriver(root), REPO, Date.now)!;
    watch.watchRevisions([candidate]);
    await rm(join(manifests, "revisions/sha256", hex, "link"));
    await quiet();
    expect(watch.sightings.map((s) => s.kind)).toEqual(["revision-renamed"]);
  });

  it("names a new tag's digest from its history when its current link is not there", async () => {
    await mkdir(join(manifests, "tags"), { recursive: true });
    watch = watchRepository(new FilesystemDriver(root), REPO, Date.now)!;
    await mkdir(join(manifests, "tags", "half/index/sha256", hex), { recursive: true });
    await writeFile(join(manifests, "tags", "half/index/sha256", hex, "link"), candidate);
    await quiet();
    expect(watch.sightings.find((s) => s.kind === "tag")).toMatchObject({ tag: "half", digest: candidate });
  });
});
