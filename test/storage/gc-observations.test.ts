/** What the storage layout reports for the files the registry's garbage collection stops at. */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gcHazardOf } from "../../src/core/gc-hazards.js";
import { OCI_ARTIFACT_MANIFEST } from "../../src/core/manifest.js";
import type { RepositoryName } from "../../src/core/repository-name.js";
import type { StorageWarning } from "../../src/core/types.js";
import { FilesystemStorageReader } from "../../src/storage/filesystem-reader.js";
import {
  type StorageTree, blobDataPath, createStorageTree, imageManifest, repositoryDir, revisionLinkPath, tagCurrentLinkPath, tagsDir,
} from "../helpers/storage-tree.js";

const repo = (name: string) => name as RepositoryName;

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

describe("observations for garbage collection", () => {
  it("an OCI artifact manifest, a manifest of an unknown media type, and a corrupt revision link", async () => {
    const artifact = await tree.push("group/app", { mediaType: OCI_ARTIFACT_MANIFEST, artifactType: "application/x-sbom", blobs: [] });
    const unknown = await tree.push("group/app", { ...imageManifest("u"), mediaType: "application/vnd.foo.manifest+json" });
    const corrupt = await tree.push("group/app", imageManifest("c"));
    await tree.writeRaw(revisionLinkPath(tree.root, "group/app", corrupt), "garbage");

    const snapshot = await new FilesystemStorageReader(tree.root).readRepository(repo("group/app"));
    const byPath = new Map(snapshot.warnings.map((w) => [w.path, w]));

    const art = byPath.get(blobDataPath(tree.root, artifact))!;
    expect(art.gc).toMatchObject({ kind: "manifest", digest: artifact, link: revisionLinkPath(tree.root, "group/app", artifact) });
    expect(gcHazardOf(art)!.reason).toContain("unrecognized manifest schema version 0");
    // Still kept as unreadable, as before.
    expect(snapshot.revisions.find((r) => r.digest === artifact)!.problem).toContain("OCI artifact manifest");

    const odd = byPath.get(blobDataPath(tree.root, unknown))!;
    expect(odd.message).toContain("its media type application/vnd.foo.manifest+json is not one the registry decodes");
    expect(gcHazardOf(odd)!.reason).toContain("unrecognized manifest content type application/vnd.foo.manifest+json");
    // Parsed all the same: planned like any image.
    expect(snapshot.revisions.find((r) => r.digest === unknown)!.manifest?.kind).toBe("image");

    const link = byPath.get(revisionLinkPath(tree.root, "group/app", corrupt))!;
    expect(link.gc).toEqual({ kind: "revision-link", repository: "group/app", digest: corrupt, content: "garbage" });
  });

  it("a corrupt tag link, a file in _manifests/tags and a tag directory without current/link", async () => {
    const digest = await tree.push("group/app", imageManifest("a"), { tags: ["good"] });
    await tree.writeRaw(tagCurrentLinkPath(tree.root, "group/app", "broken"), "latest\n");
    await tree.writeRaw(join(tagsDir(tree.root, "group/app"), "README"), "not a tag");
    await tree.mkdir(join(tagsDir(tree.root, "group/app"), "half", "index", "sha256"));
    const reader = new FilesystemStorageReader(tree.root);

    const state = await reader.readTags(repo("group/app"));
    expect([...state.tags]).toEqual([["good", digest]]);
    expect(state.strayEntries).toEqual([
      { name: "README", path: join(tagsDir(tree.root, "group/app"), "README"), what: "file" },
      { name: "half", path: join(tagsDir(tree.root, "group/app"), "half"), what: "no-current-link" },
    ]);

    const { warnings } = await reader.readRepository(repo("group/app"));
    const kinds = warnings.map((w: StorageWarning) => w.gc?.kind ?? "none");
    expect(kinds).toEqual(["tag-link", "tags-file", "none"]);
    expect(warnings[2]!.message).toContain('Tag directory "half" of group/app has no current/link');
  });

  it("an invalid repository directory", async () => {
    await tree.createRepository("group/UPPER");
    const warnings: StorageWarning[] = [];
    for await (const name of new FilesystemStorageReader(tree.root).listRepositories((w) => warnings.push(w))) void name;
    expect(warnings).toEqual([expect.objectContaining({ path: repositoryDir(tree.root, "group/UPPER"), gc: { kind: "repository-name", name: "group/UPPER" } })]);
  });
});
