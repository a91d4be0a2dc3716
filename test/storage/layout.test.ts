import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import {
  blobDataPath, blobsDir, repositoriesDir, repositoryDir, revisionLinkPath, revisionsDir, tagCurrentLinkPath, tagsDir,
} from "../../src/storage/layout.js";

const digest = `sha256:${"ab".repeat(32)}` as Digest;
const hex = "ab".repeat(32);

describe("layout paths", () => {
  // Built by concatenation below a root normalised once: they must equal what join gives.
  for (const root of ["/var/opt/gitlab/gitlab-rails/shared/registry", "/srv/registry/", "relative/./root", "/a//b/../c"]) {
    it(`matches path.join for the root ${JSON.stringify(root)}`, () => {
      const v2 = join(root, "docker", "registry", "v2");
      const repo = join(v2, "repositories", "group", "sub", "project");
      expect(repositoriesDir(root)).toBe(join(v2, "repositories"));
      expect(blobsDir(root)).toBe(join(v2, "blobs"));
      expect(repositoryDir(root, "group/sub/project")).toBe(repo);
      expect(revisionsDir(root, "group/sub/project")).toBe(join(repo, "_manifests", "revisions"));
      expect(revisionLinkPath(root, "group/sub/project", digest)).toBe(join(repo, "_manifests", "revisions", "sha256", hex, "link"));
      expect(tagsDir(root, "group/sub/project")).toBe(join(repo, "_manifests", "tags"));
      expect(tagCurrentLinkPath(root, "group/sub/project", "v1.2")).toBe(join(repo, "_manifests", "tags", "v1.2", "current", "link"));
      expect(blobDataPath(root, digest)).toBe(join(v2, "blobs", "sha256", "ab", hex, "data"));
    });
  }

  it("follows a change of root (one cached at a time)", () => {
    expect(repositoryDir("/one", "a/b")).toBe("/one/docker/registry/v2/repositories/a/b");
    expect(repositoryDir("/two", "a/b")).toBe("/two/docker/registry/v2/repositories/a/b");
    expect(blobsDir("/one")).toBe("/one/docker/registry/v2/blobs");
  });
});
