import { rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import type { StorageWarning } from "../../src/core/types.js";
import { FilesystemStorageReader } from "../../src/storage/filesystem-reader.js";
import { nodeStorageFs } from "../../src/storage/storage-fs.js";
import {
  type StorageTree,
  blobDataPath,
  createStorageTree,
  digestOf,
  failingFs,
  fakeDigest,
  imageManifest,
  indexManifest,
  repositoriesDir,
  repositoryDir,
  revisionLinkPath,
  revisionsDir,
  tagCurrentLinkPath,
  tagsDir,
} from "../helpers/storage-tree.js";

const repo = (name: string) => name as RepositoryName;

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

async function list(reader: FilesystemStorageReader): Promise<{ names: string[]; warnings: StorageWarning[] }> {
  const warnings: StorageWarning[] = [];
  const names: string[] = [];
  for await (const name of reader.listRepositories((w) => warnings.push(w))) names.push(name);
  return { names, warnings };
}

describe("listRepositories", () => {
  it("streams nested repositories in string order, including repositories that are also parents", async () => {
    const names = ["z9", "group/project/image", "group/project", "group/project-x", "group/project.y",
      "group/sub/deep/image", "a", "group/project/image/x"];
    for (const name of names) await tree.createRepository(name);
    await tree.mkdir(join(repositoriesDir(tree.root), "group", "empty", "dir"));

    const { names: listed, warnings } = await list(new FilesystemStorageReader(tree.root));

    expect(listed).toEqual([...names].sort());
    expect(listed.indexOf("group/project")).toBeLessThan(listed.indexOf("group/project/image"));
    expect(warnings).toEqual([]);
  });

  it("never treats path elements starting with _ as names, and does not descend into them", async () => {
    await tree.createRepository("group/app");
    await tree.createRepository("group/app/_uploads/nested");
    await tree.createRepository("group/_hidden/app");
    await tree.mkdir(join(repositoryDir(tree.root, "group/app"), "_layers", "sha256"));

    const { names, warnings } = await list(new FilesystemStorageReader(tree.root));

    expect(names).toEqual(["group/app"]);
    expect(warnings).toEqual([]);
  });

  it("warns once about an invalid name and skips everything under it", async () => {
    await tree.createRepository("Group/app");
    await tree.createRepository("Group/app/child");
    await tree.createRepository("good/bad..name");
    await tree.createRepository("good/app");

    const { names, warnings } = await list(new FilesystemStorageReader(tree.root));

    expect(names).toEqual(["good/app"]);
    expect(warnings.map((w) => w.path)).toEqual([
      join(repositoriesDir(tree.root), "Group"),
      join(repositoriesDir(tree.root), "good", "bad..name"),
    ]);
    expect(warnings[0]!.message).toContain('"Group" is not a valid repository name');
    expect(warnings[0]!.message).toContain("everything under it");
  });

  it("does not follow symbolic links, so a loop cannot hang the walk", async () => {
    await tree.createRepository("group/app");
    await symlink("..", join(repositoryDir(tree.root, "group"), "loop"));
    await symlink(repositoryDir(tree.root, "group/app"), join(repositoriesDir(tree.root), "alias"));
    await tree.mkdir(repositoryDir(tree.root, "group/linked"));
    await symlink(join(repositoryDir(tree.root, "group/app"), "_manifests"), join(repositoryDir(tree.root, "group/linked"), "_manifests"));

    const { names, warnings } = await list(new FilesystemStorageReader(tree.root));

    expect(names).toEqual(["group/app"]);
    expect(warnings.map((w) => w.path)).toEqual([
      join(repositoriesDir(tree.root), "alias"),
      join(repositoryDir(tree.root, "group/linked"), "_manifests"),
      join(repositoriesDir(tree.root), "group", "loop"),
    ]);
    expect(warnings[0]!.message).toContain("symbolic link");
  });

  it("warns about an unreadable directory and goes on with its siblings", async () => {
    for (const name of ["a/app", "b/app", "c/app"]) await tree.createRepository(name);
    const fs = failingFs({ [join(repositoriesDir(tree.root), "b")]: "EACCES" });

    const { names, warnings } = await list(new FilesystemStorageReader(tree.root, { fs }));

    expect(names).toEqual(["a/app", "c/app"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain("permission denied");
  });

  it("lists nothing, without throwing, when the repositories directory is missing (checkRoot's job)", async () => {
    const bare = await createStorageTree({ bare: true });
    try {
      const { names, warnings } = await list(new FilesystemStorageReader(bare.root));
      expect(names).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      await bare.cleanup();
    }
  });

  it("yields the first repository before the whole tree is listed", async () => {
    for (let i = 0; i < 200; i++) await tree.createRepository(`group${String(i).padStart(3, "0")}/app`);
    const calls: string[] = [];
    const reader = new FilesystemStorageReader(tree.root, { fs: failingFs({}, calls), concurrency: 4 });

    const iterator = reader.listRepositories(() => {})[Symbol.asyncIterator]();
    const first = await iterator.next();

    expect(first.value).toBe("group000/app");
    expect(calls.length).toBeLessThan(20);
    await iterator.return?.(undefined);
  });
});

describe("readRepository", () => {
  it("reads revisions with their manifests, sizes and link mtimes, and the current tags", async () => {
    const linkedAt = Date.UTC(2024, 0, 2, 3, 4, 5);
    const child = await tree.push("group/app", imageManifest("child"), { linkedAt });
    const index = await tree.push("group/app", indexManifest([child]), { tags: ["latest", "v1"], linkedAt });

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));

    expect(snapshot.name).toBe("group/app");
    expect(snapshot.revisions.map((r) => r.digest)).toEqual([child, index].sort());
    const indexRevision = snapshot.revisions.find((r) => r.digest === index)!;
    expect(indexRevision.linkedAt).toBe(linkedAt);
    expect(indexRevision.manifest?.kind).toBe("index");
    expect(indexRevision.manifest?.children.map((c) => c.digest)).toEqual([child]);
    expect(indexRevision.manifestSize).toBe(JSON.stringify(indexManifest([child])).length);
    expect([...snapshot.tags]).toEqual([["latest", index], ["v1", index]]);
    expect(snapshot.unreadableTags).toEqual([]);
    expect(snapshot.warnings).toEqual([]);
  });

  it("warns about corrupt, empty, oversized and mismatching revision links and skips those revisions", async () => {
    const good = await tree.push("group/app", imageManifest("good"));
    const corrupt = fakeDigest("corrupt");
    const empty = fakeDigest("empty");
    const newline = fakeDigest("newline");
    const huge = fakeDigest("huge");
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", corrupt), "not a digest");
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", empty), "");
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", newline), `${newline}\n`);
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", huge), "x".repeat(4096));
    // A link whose size is its digest's is taken from the listing, as garbage collection takes
    // the digest from the path; one of another size is read: here a sha512 folder holding a sha256.
    const mismatch = `sha512:${"ab".repeat(64)}` as Digest;
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", mismatch), good);

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));

    expect(snapshot.revisions.map((r) => r.digest)).toEqual([good]);
    const byPath = new Map(snapshot.warnings.map((w) => [w.path, w.message]));
    expect(byPath.get(revisionLinkPath(tree.root, "group/app", corrupt))).toMatch(/does not hold a valid digest/);
    expect(byPath.get(revisionLinkPath(tree.root, "group/app", empty))).toMatch(/is empty/);
    expect(byPath.get(revisionLinkPath(tree.root, "group/app", newline))).toMatch(/does not hold a valid digest/);
    expect(byPath.get(revisionLinkPath(tree.root, "group/app", huge))).toMatch(/too long/);
    expect(byPath.get(revisionLinkPath(tree.root, "group/app", mismatch))).toContain(`holds ${good}`);
    expect(snapshot.warnings).toHaveLength(5);
  });

  it("skips deleted revisions (a <hex> directory without link) silently and warns about foreign entries", async () => {
    const live = await tree.push("group/app", imageManifest("live"));
    const deleted = fakeDigest("deleted");
    await tree.mkdir(join(revisionsDir(tree.root, "group/app"), "sha256", deleted.slice(7)));
    await tree.writeRaw(join(revisionsDir(tree.root, "group/app"), "sha256", "not-hex", "link"), live);

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));

    expect(snapshot.revisions.map((r) => r.digest)).toEqual([live]);
    expect(snapshot.warnings).toHaveLength(1);
    expect(snapshot.warnings[0]!.message).toContain('"not-hex" is not a sha256 digest');
  });

  it("keeps a revision whose blob is missing or malformed, with a problem and a warning", async () => {
    const missing = fakeDigest("no blob");
    await tree.linkRevision("group/app", missing);
    const malformed = await tree.push("group/app", "{ not json");

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));

    const byDigest = new Map(snapshot.revisions.map((r) => [r.digest, r]));
    expect(byDigest.get(missing)?.problem).toBe(`its manifest blob ${blobDataPath(tree.root, missing)} is missing`);
    expect(byDigest.get(missing)?.manifest).toBeUndefined();
    expect(byDigest.get(malformed)?.problem).toContain("the manifest is not valid JSON");
    expect(byDigest.get(malformed)?.manifestSize).toBe("{ not json".length);
    expect(snapshot.warnings.map((w) => w.path).sort()).toEqual(
      [blobDataPath(tree.root, missing), blobDataPath(tree.root, malformed)].sort(),
    );
  });

  it("dates each tag by its current/link's modification time", async () => {
    const digest = await tree.push("group/app", imageManifest("a"), { tags: ["old", "new"] });
    await tree.writeRaw(tagCurrentLinkPath(tree.root, "group/app", "old"), digest, new Date("2026-03-02T10:00:00Z"));
    await tree.writeRaw(tagCurrentLinkPath(tree.root, "group/app", "new"), digest, new Date("2026-11-30T10:00:00.250Z"));
    const { tagPushedAt } = await new FilesystemStorageReader(tree.root).readTags(repo("group/app"));
    expect(tagPushedAt).toEqual(new Map([["new", Date.parse("2026-11-30T10:00:00.250Z")], ["old", Date.parse("2026-03-02T10:00:00Z")]]));
  });

  it("skips tags without current/link, ignores tag history, and reports corrupt tag links", async () => {
    const digest = await tree.push("group/app", imageManifest("a"), { tags: ["good"] });
    await tree.mkdir(join(tagsDir(tree.root, "group/app"), "deleted", "index", "sha256"));
    await tree.writeRaw(tagCurrentLinkPath(tree.root, "group/app", "broken"), "garbage");
    await tree.writeRaw(tagCurrentLinkPath(tree.root, "group/app", "blank"), "");

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));

    expect([...snapshot.tags]).toEqual([["good", digest]]);
    expect(snapshot.unreadableTags.map((t) => t.tag)).toEqual(["blank", "broken"]);
    expect(snapshot.unreadableTags[1]).toMatchObject({
      path: tagCurrentLinkPath(tree.root, "group/app", "broken"),
      problem: expect.stringContaining("does not hold a valid digest"),
    });
    // The registry still lists a tag directory without current/link as a tag: the scan says so.
    const deleted = join(tagsDir(tree.root, "group/app"), "deleted");
    expect(snapshot.warnings.map((w) => w.path)).toEqual([...snapshot.unreadableTags.map((t) => t.path), deleted]);
    expect(snapshot.warnings[2]!.message).toContain('Tag directory "deleted" of group/app has no current/link');
  });

  it("reports an unlistable tags directory as an unreadable tag, never as no tags", async () => {
    await tree.push("group/app", imageManifest("a"), { tags: ["latest"] });
    const fs = failingFs({ [tagsDir(tree.root, "group/app")]: "EACCES" });

    const reader = new FilesystemStorageReader(tree.root, { fs });
    const snapshot = await reader.readRepository(repo("group/app"));

    expect(snapshot.tags.size).toBe(0);
    expect(snapshot.unreadableTags).toEqual([
      { tag: "*", path: tagsDir(tree.root, "group/app"), problem: expect.stringContaining("permission denied") },
    ]);
    expect((await reader.readTags(repo("group/app"))).unreadableTags).toHaveLength(1);
  });

  it("survives EACCES and ENOENT races on single files", async () => {
    const vanished = await tree.push("group/app", imageManifest("vanished"));
    const locked = await tree.push("group/app", imageManifest("locked"));
    const closedBlob = await tree.push("group/app", imageManifest("closed blob"));
    const fs = failingFs({
      [revisionLinkPath(tree.root, "group/app", vanished)]: "ENOENT",
      [revisionLinkPath(tree.root, "group/app", locked)]: "EACCES",
      [blobDataPath(tree.root, closedBlob)]: "EACCES",
    });

    const snapshot = await new FilesystemStorageReader(tree.root, { fs }).readRepository(repo("group/app"));

    expect(snapshot.revisions.map((r) => r.digest)).toEqual([closedBlob]);
    expect(snapshot.revisions[0]!.problem).toContain("permission denied");
    expect(snapshot.warnings.map((w) => w.path).sort()).toEqual(
      [revisionLinkPath(tree.root, "group/app", locked), blobDataPath(tree.root, closedBlob)].sort(),
    );
  });

  it("returns an empty snapshot for a repository that vanished", async () => {
    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("gone/app"));
    expect(snapshot).toEqual({ name: "gone/app", revisions: [], tags: new Map(), tagPushedAt: new Map(), unreadableTags: [], warnings: [] });
  });

  it("reads a large repository with bounded concurrency", async () => {
    const digests: Digest[] = [];
    for (let i = 0; i < 150; i++) digests.push(await tree.push("group/app", imageManifest(`m${i}`)));
    const snapshot = await new FilesystemStorageReader(tree.root, { concurrency: 3 }).readRepository(repo("group/app"));
    expect(snapshot.revisions.map((r) => r.digest)).toEqual(digests.sort());
    expect(snapshot.revisions.every((r) => r.manifest?.kind === "image")).toBe(true);
  });

  it("over the worker pool, asks for up to 256 manifests at once (one message); through libuv, 32", async () => {
    for (let i = 0; i < 300; i++) await tree.push("group/app", imageManifest(`m${i}`));
    const mostInFlight = async (reader: FilesystemStorageReader): Promise<number> => {
      const get = reader.driver.get.bind(reader.driver);
      let reading = 0;
      let most = 0;
      reader.driver.get = async (...args) => {
        most = Math.max(most, ++reading);
        try {
          return await get(...args);
        } finally {
          reading--;
        }
      };
      expect((await reader.readRepository(repo("group/app"))).revisions).toHaveLength(300);
      return most;
    };
    expect(await mostInFlight(new FilesystemStorageReader(tree.root))).toBe(256);
    expect(await mostInFlight(new FilesystemStorageReader(tree.root, { fs: nodeStorageFs }))).toBe(32);
  });
});

describe("readTags, hasRevision, readBlob", () => {
  it("answers from the current state of the storage", async () => {
    const manifest = JSON.stringify(imageManifest("a"));
    const digest = await tree.push("group/app", manifest, { tags: ["v2", "v1"] });
    const reader = new FilesystemStorageReader(tree.root);

    expect([...(await reader.readTags(repo("group/app"))).tags.keys()]).toEqual(["v1", "v2"]);
    expect(await reader.hasRevision(repo("group/app"), digest)).toBe(true);
    expect(await reader.hasRevision(repo("group/app"), fakeDigest("other"))).toBe(false);
    expect(await reader.hasRevision(repo("other/app"), digest)).toBe(false);
    expect((await reader.readBlob(digest)).toString()).toBe(manifest);
    expect(digestOf(await reader.readBlob(digest))).toBe(digest);
  });

  it("throws an error naming the blob when it cannot be read", async () => {
    const missing = fakeDigest("missing");
    await expect(new FilesystemStorageReader(tree.root).readBlob(missing)).rejects.toThrow(
      `Could not read blob ${missing} from ${blobDataPath(tree.root, missing)}`,
    );
  });
});

describe("statRevisions", () => {
  it("lists revision directories and stats the live links, with the mtimes readRepository reports", async () => {
    const kept = await tree.push("group/app", imageManifest("kept"), { tags: ["v1"] });
    const deleted = await tree.push("group/app", imageManifest("deleted"));
    // A manifest deleted through the API leaves its directory without a link.
    await rm(revisionLinkPath(tree.root, "group/app", deleted));
    const reader = new FilesystemStorageReader(tree.root);

    const stats = await reader.statRevisions(repo("group/app"));
    const snapshot = await reader.readRepository(repo("group/app"));
    expect(stats.directories.sort()).toEqual([kept, deleted].sort());
    expect(await reader.listRevisionDigests(repo("group/app"))).toEqual(stats.directories);
    expect(stats.links).toEqual(snapshot.revisions.map(({ digest, linkedAt }) => ({ digest, linkedAt })));
    expect(await reader.statRevisions(repo("other/app"))).toEqual({ directories: [], links: [] });
  });

  it("throws, naming the link, when a link cannot be stat'ed", async () => {
    const digest = await tree.push("group/app", imageManifest("a"));
    const path = revisionLinkPath(tree.root, "group/app", digest);
    const reader = new FilesystemStorageReader(tree.root, { fs: failingFs({ [path]: "EACCES" }) });
    await expect(reader.statRevisions(repo("group/app"))).rejects.toThrow(`Could not check the revision link ${path}: permission denied`);
  });
});


describe("listBlobs", () => {
  async function listed(reader: FilesystemStorageReader) {
    const warnings: StorageWarning[] = [];
    const blobs: Array<{ digest: Digest; size: number }> = [];
    for await (const blob of reader.listBlobs((w) => warnings.push(w))) blobs.push(blob);
    return { blobs, warnings };
  }

  it("lists every blob with its size, in digest order, across folders and within a crowded one", async () => {
    const contents = Array.from({ length: 300 }, (_, i) => `blob ${i}`.repeat(1 + (i % 3)));
    const expected = await Promise.all(contents.map(async (content) => ({ digest: await tree.writeBlob(content), size: content.length })));
    // A large store has thousands of blobs per two-hex folder: more than one slice of stats.
    for (let i = 0; i < 1_100; i++) {
      const digest = `sha256:ab${i.toString(16).padStart(62, "0")}` as Digest;
      await tree.writeRaw(blobDataPath(tree.root, digest), "x".repeat(i % 7));
      expected.push({ digest, size: i % 7 });
    }
    const { blobs, warnings } = await listed(new FilesystemStorageReader(tree.root, { concurrency: 4 }));
    expect(warnings).toEqual([]);
    expect(blobs).toEqual(expected.sort((a, b) => (a.digest < b.digest ? -1 : 1)));
  });

  it("skips a folder without data (an unfinished upload) and warns about one it cannot stat", async () => {
    const kept = await tree.writeBlob("kept");
    const unfinished = await tree.writeBlob("unfinished");
    const unreadable = await tree.writeBlob("unreadable");
    await rm(blobDataPath(tree.root, unfinished));
    const path = blobDataPath(tree.root, unreadable);
    const { blobs, warnings } = await listed(new FilesystemStorageReader(tree.root, { fs: failingFs({ [path]: "EACCES" }) }));
    expect(blobs).toEqual([{ digest: kept, size: 4 }]);
    expect(warnings).toEqual([{ path, message: expect.stringContaining("permission denied") }]);
  });
});
