/**
 * The change watch on a real filesystem (inotify): what a push writes makes it not quiet, what
 * the registry's DELETE of an untagged manifest does (and reading) leaves it quiet.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_WATCHED_TAGS, watchChanges, type ChangeWatch } from "../../src/storage/change-watch.js";
import { FilesystemDriver } from "../../src/storage/filesystem-driver.js";
import { isLocalFilesystem } from "../../src/storage/filesystem-watch.js";
import { fakeDigest } from "../helpers/plan-builders.js";

const REPO = "group/project";
const candidate = fakeDigest("candidate");
const tagged = fakeDigest("tagged");
let root: string;
let manifests: string;
let watch: ChangeWatch | undefined;

const hexOf = (digest: string): string => digest.slice("sha256:".length);

async function link(digest: string): Promise<void> {
  await mkdir(join(manifests, "revisions/sha256", hexOf(digest)), { recursive: true });
  await writeFile(join(manifests, "revisions/sha256", hexOf(digest), "link"), digest);
}

/** What distribution writes for a push of `tag` onto `digest`: revision link, tag index, current link. */
async function pushTag(tag: string, digest: string): Promise<void> {
  await link(digest);
  await mkdir(join(manifests, "tags", tag, "index/sha256", hexOf(digest)), { recursive: true });
  await writeFile(join(manifests, "tags", tag, "index/sha256", hexOf(digest), "link"), digest);
  await mkdir(join(manifests, "tags", tag, "current"), { recursive: true });
  await writeFile(join(manifests, "tags", tag, "current/link"), digest);
}

/** Events arrive through the event loop. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

function start(tags: string[]): ChangeWatch {
  watch = watchChanges(new FilesystemDriver(root), REPO, tags)!;
  return watch;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "change-watch-"));
  manifests = join(root, "docker/registry/v2/repositories", REPO, "_manifests");
  await link(candidate);
});

afterEach(async () => {
  watch?.close();
  await rm(root, { recursive: true, force: true });
});

describe("watchChanges on a filesystem", () => {
  it("stays quiet through reads and the DELETE of an untagged manifest", async () => {
    await pushTag("latest", tagged);
    const changes = start(["latest"]);
    const mark = changes.mark();
    await readFile(join(manifests, "tags/latest/current/link"));
    // The registry's DELETE: the link goes, its folder stays.
    await rm(join(manifests, "revisions/sha256", hexOf(candidate), "link"));
    await settle();
    expect(changes.quietSince(mark)).toBe(true);
  });

  it("sees a manifest pushed for the first time (a new revision folder)", async () => {
    await pushTag("latest", tagged);
    const changes = start(["latest"]);
    const mark = changes.mark();
    await link(fakeDigest("new index"));
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
    expect(changes.quietSince(changes.mark())).toBe(true);
  });

  it("sees a tag moved (its current link rewritten in place)", async () => {
    await pushTag("latest", tagged);
    const changes = start(["latest"]);
    const mark = changes.mark();
    await writeFile(join(manifests, "tags/latest/current/link"), candidate);
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
  });

  it("sees a tag added or removed", async () => {
    await pushTag("latest", tagged);
    const changes = start(["latest"]);
    let mark = changes.mark();
    await pushTag("v2", candidate);
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
    // The read that found v2 must not count: v2 was not watched while it read.
    expect(changes.watchTags(["latest", "v2"])).toBe(true);
    expect(changes.watchTags(["latest", "v2"])).toBe(false);
    mark = changes.mark();
    await rm(join(manifests, "tags/v2"), { recursive: true });
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
  });

  it("sees the first tag of a repository that had none, and its tags from then on", async () => {
    const changes = start([]);
    let mark = changes.mark();
    await pushTag("first", tagged);
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
    expect(changes.watchTags(["first"])).toBe(true);
    mark = changes.mark();
    await pushTag("second", tagged);
    await settle();
    expect(changes.quietSince(mark)).toBe(false);
  });

  it("is never quiet while a tag's current folder cannot be watched", async () => {
    await mkdir(join(manifests, "tags/half-pushed/index"), { recursive: true });
    const changes = start(["half-pushed"]);
    await settle();
    expect(changes.quietSince(changes.mark())).toBe(false);
    await pushTag("half-pushed", tagged);
    changes.watchTags(["half-pushed"]);
    expect(changes.quietSince(changes.mark())).toBe(true);
  });

  it("is never quiet when the revision folders cannot be watched", async () => {
    await rm(join(manifests, "revisions"), { recursive: true });
    const changes = start([]);
    expect(changes.quietSince(changes.mark())).toBe(false);
  });

  it("watches no more tags than its limit, and is never quiet past it", async () => {
    await pushTag("latest", tagged);
    const many = Array.from({ length: MAX_WATCHED_TAGS + 1 }, (_, i) => `t${i}`);
    expect(watchChanges(new FilesystemDriver(root), REPO, many)).toBeUndefined();
    const changes = start(["latest"]);
    expect(changes.watchTags(["latest", ...many])).toBe(true);
    expect(changes.quietSince(changes.mark())).toBe(false);
  });

  it("is not started where other hosts may write (NFS: inotify sees this host's writes only)", () => {
    class NetworkDriver extends FilesystemDriver {
      override get watchSeesEveryWrite(): boolean {
        return false;
      }
    }
    expect(new FilesystemDriver(root).watchSeesEveryWrite).toBe(true);
    expect(watchChanges(new NetworkDriver(root), REPO, [])).toBeUndefined();
    expect(isLocalFilesystem(0xef53)).toBe(true); // ext4
    expect(isLocalFilesystem(0x6969)).toBe(false); // NFS
    expect(isLocalFilesystem(0xff534d42)).toBe(false); // CIFS
  });
});
