/**
 * The re-check between batches, over a fake StorageReader whose snapshot a test changes as a
 * concurrent pusher would: when it re-plans, and what a push during the run protects.
 */
import { gracePolicy } from "../../src/core/policy.js";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepositorySnapshot } from "../../src/core/types.js";
import { refresh, replan, repositoryStamp, resume, verdictOf } from "../../src/execute/recheck.js";
import type { ChangeWatch } from "../../src/storage/change-watch.js";
import type { StorageReader } from "../../src/storage/storage-reader.js";
import { image, index, NOW, repoName, snapshot } from "../helpers/plan-builders.js";

/** A storage whose repository is whatever `current` holds; counts full reads. */
class FakeStorage {
  reads = 0;
  tagReads = 0;
  constructor(public current: RepositorySnapshot, public dirs: Digest[] = current.revisions.map((r) => r.digest)) {}

  asReader(withListing = true): StorageReader {
    const reader = {
      root: "/fake",
      readRepository: async () => (this.reads++, this.current),
      readTags: async () => (this.tagReads++, { tags: this.current.tags, unreadableTags: this.current.unreadableTags }),
      ...(withListing ? {
        listRevisionDigests: async () => this.dirs,
        statRevisions: async () => ({ directories: this.dirs, links: this.current.revisions.map(({ digest, linkedAt }) => ({ digest, linkedAt })) }),
      } : {}),
    };
    return reader as unknown as StorageReader;
  }
}

const amd64 = image("amd64");
const arm64 = image("arm64");
const tagged = image("app");
const name = repoName();
const SCAN = NOW - 60_000;

/** A change watch a test drives: `change()` is an event, `blind` a folder it could not watch. */
class ScriptedChanges implements ChangeWatch {
  events = 0;
  blind = false;
  readonly watched = new Set<string>();
  change(): void {
    this.events++;
  }
  mark(): number {
    return this.events;
  }
  quietSince(mark: number): boolean {
    return !this.blind && this.events === mark;
  }
  watchTags(tags: Iterable<string>): boolean {
    let added = false;
    for (const tag of tags) if (!this.watched.has(tag)) (added = true), this.watched.add(tag);
    return added;
  }
  close(): void {}
}

function context(storage: FakeStorage, withListing = true) {
  return { storage: storage.asReader(withListing), now: () => NOW, policy: gracePolicy(0) };
}

describe("re-check between batches", () => {
  it("does not re-plan while nothing changed", async () => {
    const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
    const watch = await replan(name, SCAN, context(storage));
    expect(await refresh(watch, context(storage))).toBe(watch);
    expect(storage.reads).toBe(1);
    expect(verdictOf(watch, amd64.digest)).toBeUndefined();
  });

  it("keeps the children of a tagged index pushed mid-run", async () => {
    const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
    const watch = await replan(name, SCAN, context(storage));
    const multi = index("multi", [amd64, arm64], { ageMs: 1_000 });
    storage.current = snapshot({ revisions: [tagged, amd64, arm64, multi], tags: { latest: tagged, multi } });
    const fresh = await refresh(watch, context(storage, false));
    expect(fresh.replans).toBe(1);
    expect(verdictOf(fresh, amd64.digest)).toEqual({ kind: "kept-on-recheck", detail: expect.stringMatching(/^changed since the scan, now kept: referenced by index sha256:/) });
  });

  it("keeps the children of an untagged index pushed mid-run, even with no grace period", async () => {
    const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
    const watch = await replan(name, SCAN, context(storage));
    // Linked 1 s ago, after the scan: a push during the run, noticed by its new revision directory.
    const multi = index("multi", [amd64, arm64], { ageMs: 1_000 });
    storage.current = snapshot({ revisions: [tagged, amd64, arm64, multi], tags: { latest: tagged } });
    storage.dirs = [...storage.dirs, multi.digest];
    const fresh = await refresh(watch, context(storage));
    expect(verdictOf(fresh, arm64.digest)?.kind).toBe("kept-on-recheck");
    expect(verdictOf(fresh, multi.digest)).toEqual({ kind: "kept-on-recheck", detail: expect.stringMatching(/^changed since the scan, now kept: pushed .* younger than the grace period$/) });
  });

  it("still deletes what was there before the scan, and reports what vanished", async () => {
    const old = index("old", [amd64], { ageMs: 120_000 });
    const storage = new FakeStorage(snapshot({ revisions: [tagged, old, amd64, arm64], tags: { latest: tagged } }));
    const watch = await replan(name, SCAN, context(storage));
    expect(verdictOf(watch, old.digest)).toBeUndefined();
    expect(verdictOf(watch, amd64.digest)).toBeUndefined();
    storage.current = snapshot({ revisions: [tagged, old, amd64], tags: { latest: tagged, moved: tagged } });
    const fresh = await refresh(watch, context(storage));
    expect(verdictOf(fresh, arm64.digest)).toEqual({ kind: "already-gone", detail: "its revision link disappeared before the delete" });
  });

  it("re-plans, keeping everything, when a tag becomes unreadable", async () => {
    const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64], tags: { latest: tagged } }));
    const watch = await replan(name, SCAN, context(storage));
    storage.current = { ...storage.current, unreadableTags: [{ tag: "x", path: "x", problem: "empty" }] };
    const fresh = await refresh(watch, context(storage));
    expect(verdictOf(fresh, amd64.digest)).toEqual({ kind: "kept-on-recheck", detail: expect.stringMatching(/^changed since the scan, now kept: repository not safe to judge: /) });
  });

  describe("before the first delete", () => {
    const scanned = (current: RepositorySnapshot) => ({
      since: SCAN, stamp: repositoryStamp(current.revisions, current.tags), candidates: [amd64.digest, arm64.digest],
    });

    it("goes on from the scan's plan, without reading a manifest, while the disk is as scanned", async () => {
      const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
      const watch = await resume(name, scanned(storage.current), context(storage));
      expect(storage.reads).toBe(0);
      expect(verdictOf(watch, amd64.digest)).toBeUndefined();
      expect(verdictOf(watch, arm64.digest)).toBeUndefined();
    });

    it("plans again when a candidate was pushed again since the scan (its link has a new mtime)", async () => {
      const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
      const before = scanned(storage.current);
      storage.current = snapshot({ revisions: [tagged, amd64, { ...arm64, linkedAt: NOW - 1_000 }], tags: { latest: tagged } });
      const watch = await resume(name, before, context(storage));
      expect(storage.reads).toBe(1);
      expect(verdictOf(watch, arm64.digest)).toEqual({ kind: "kept-on-recheck", detail: expect.stringMatching(/younger than the grace period$/) });
      expect(verdictOf(watch, amd64.digest)).toBeUndefined();
    });

    it("plans again when a tag was added or moved, a revision appeared or vanished, or the scan left no stamp", async () => {
      const base = snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } });
      const changes = [
        snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged, pinned: amd64 } }),
        snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: amd64 } }),
        snapshot({ revisions: [tagged, amd64, arm64, index("multi", [amd64], { ageMs: 1_000 })], tags: { latest: tagged } }),
        snapshot({ revisions: [tagged, amd64], tags: { latest: tagged } }),
      ];
      for (const changed of changes) {
        const storage = new FakeStorage(base);
        const before = scanned(base);
        storage.current = changed;
        await resume(name, before, context(storage));
        expect(storage.reads).toBe(1);
      }
      const storage = new FakeStorage(base);
      const { stamp: _stamp, ...withoutStamp } = scanned(base);
      await resume(name, withoutStamp, context(storage));
      expect(storage.reads).toBe(1);
    });

    it("plans again when the storage cannot stat revisions", async () => {
      const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
      await resume(name, scanned(storage.current), context(storage, false));
      expect(storage.reads).toBe(1);
    });
  });

  describe("with a change watch", () => {
    async function started() {
      const storage = new FakeStorage(snapshot({ revisions: [tagged, amd64, arm64], tags: { latest: tagged } }));
      const changes = new ScriptedChanges();
      changes.watchTags(["latest"]);
      const watch = await replan(name, SCAN, context(storage));
      return { storage, changes, watch };
    }

    it("reads before the first batch, then not again while the watch saw nothing", async () => {
      const { storage, changes, watch } = await started();
      expect(await refresh(watch, context(storage), changes)).toBe(watch);
      expect(storage.tagReads).toBe(1);
      for (let batch = 0; batch < 3; batch++) expect(await refresh(watch, context(storage), changes)).toBe(watch);
      expect(storage.tagReads).toBe(1);
    });

    it("reads again after a change, and plans again when the read shows one", async () => {
      const { storage, changes, watch } = await started();
      await refresh(watch, context(storage), changes);
      const multi = index("multi", [amd64, arm64], { ageMs: 1_000 });
      storage.current = snapshot({ revisions: [tagged, amd64, arm64, multi], tags: { latest: tagged, multi } });
      changes.change();
      const fresh = await refresh(watch, context(storage), changes);
      expect(storage.tagReads).toBe(2);
      expect(verdictOf(fresh, amd64.digest)?.kind).toBe("kept-on-recheck");
      // The new tag was not watched during that read: the next batch reads once more before trusting the watch.
      expect(changes.watched.has("multi")).toBe(true);
      const next = await refresh(fresh, context(storage), changes);
      expect(storage.tagReads).toBe(3);
      await refresh(next, context(storage), changes);
      expect(storage.tagReads).toBe(3);
    });

    it("reads before every batch while part of the repository is not watched", async () => {
      const { storage, changes, watch } = await started();
      changes.blind = true;
      for (let batch = 0; batch < 3; batch++) await refresh(watch, context(storage), changes);
      expect(storage.tagReads).toBe(3);
    });

    it("reads again after a read that found a tag unreadable", async () => {
      const { storage, changes, watch } = await started();
      storage.current = { ...storage.current, unreadableTags: [{ tag: "x", path: "x", problem: "empty" }] };
      const fresh = await refresh(watch, context(storage), changes);
      storage.current = { ...storage.current, unreadableTags: [] };
      await refresh(fresh, context(storage), changes);
      expect(storage.tagReads).toBe(2);
    });
  });
});
