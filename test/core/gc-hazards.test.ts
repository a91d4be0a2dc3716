import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/core/digest.js";
import {
  addGcHazard, deletesUntagged, digestParseError, gcHazardOf, hazardsFor, manifestGcFailure, removeGcHazard, type GcHazard,
} from "../../src/core/gc-hazards.js";
import { OCI_ARTIFACT_MANIFEST, parseManifest } from "../../src/core/manifest.js";
import type { StorageWarning } from "../../src/core/types.js";

const D = `sha256:${"ab".repeat(32)}` as Digest;
const ROOT = "/srv/registry/docker/registry/v2";
const REPO = `${ROOT}/repositories/group/app`;
const LINK = `${REPO}/_manifests/revisions/sha256/${"ab".repeat(32)}/link`;
const BLOB = `${ROOT}/blobs/sha256/ab/${"ab".repeat(32)}/data`;

function shapeOf(content: unknown): Parameters<typeof manifestGcFailure>[0] {
  const parsed = parseManifest(Buffer.from(typeof content === "string" ? content : JSON.stringify(content)));
  if (parsed.ok) throw new Error("expected a manifest this tool cannot parse");
  return parsed.shape;
}

describe("manifestGcFailure (what distribution 2.8.2's decoder rejects, measured)", () => {
  it("an OCI artifact manifest: no schemaVersion, read as 0", () => {
    const shape = shapeOf({ mediaType: OCI_ARTIFACT_MANIFEST, artifactType: "application/x-sbom", blobs: [] });
    expect(manifestGcFailure(shape, D)).toBe(
      `failed to retrieve manifest for digest ${D}: unrecognized manifest schema version 0 ` +
        "(an OCI artifact manifest, which distribution 2.8 does not know)",
    );
  });

  it("another schema version, non-JSON, and a JSON value that is no object", () => {
    expect(manifestGcFailure(shapeOf({ schemaVersion: 3, layers: [] }), D)).toContain("unrecognized manifest schema version 3");
    expect(manifestGcFailure(shapeOf("<html>"), D)).toContain(`failed to retrieve manifest for digest ${D}: invalid character`);
    expect(manifestGcFailure(shapeOf("[1,2]"), D)).toContain("json: cannot unmarshal array into Go value of type manifest.Versioned");
  });

  it("a schema 2 manifest of a media type the registry does not decode, though this tool parses it", () => {
    const shape = { json: "object" as const, schemaVersion: 2, mediaType: "application/vnd.foo.manifest+json" };
    expect(manifestGcFailure(shape, D)).toBe(
      `failed to retrieve manifest for digest ${D}: errors verifying manifest: unrecognized manifest content type application/vnd.foo.manifest+json`,
    );
  });

  it("none for what the collector marks without complaint: schema 1, schema 2 without a media type, a bad child digest", () => {
    expect(manifestGcFailure({ json: "object", schemaVersion: 1 }, D)).toBeUndefined();
    expect(manifestGcFailure({ json: "object", schemaVersion: 2 }, D)).toBeUndefined();
    const badChild = shapeOf({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ digest: "x" }] });
    expect(manifestGcFailure(badChild, D)).toBeUndefined();
  });
});

describe("digestParseError (go-digest's Parse, which reads every link)", () => {
  it.each([
    ["", "invalid checksum digest format"],
    ["garbage", "invalid checksum digest format"],
    [`${D}\n`, "invalid checksum digest length"],
    ["sha256:zzz", "invalid checksum digest length"],
    [`sha256:${"zz".repeat(32)}`, "invalid checksum digest format"],
    ["md5:abcd", "unsupported digest algorithm"],
    [undefined, "invalid checksum digest format"],
  ])("%j -> %s", (content, error) => {
    expect(digestParseError(content)).toBe(error);
  });

  it("takes any digest the registry takes, sha384 included", () => {
    expect(digestParseError(D)).toBeUndefined();
    expect(digestParseError(`sha384:${"a".repeat(96)}`)).toBeUndefined();
  });
});

describe("gcHazardOf", () => {
  it("a corrupt revision link: the collector's error, and a command that writes the digest its directory names", () => {
    const warning: StorageWarning = { path: LINK, message: "…", gc: { kind: "revision-link", repository: "group/app", digest: D, content: "garbage" } };
    expect(gcHazardOf(warning)).toEqual({
      kind: "revision-link", path: LINK, repository: "group/app", onlyWithDeleteUntagged: false,
      reason: `invalid checksum digest format (the revision link of ${D} holds "garbage", not a digest)`,
      fix: `printf '%s' ${D} > ${LINK}`,
      effect: expect.stringContaining(`${D} stays in group/app`),
    });
  });

  it("a link that holds another valid digest does not stop the collector: no hazard", () => {
    const other = `sha256:${"cd".repeat(32)}`;
    expect(gcHazardOf({ path: LINK, message: "…", gc: { kind: "revision-link", repository: "group/app", digest: D, content: other } })).toBeUndefined();
  });

  it("an undecodable manifest: its revision directory is moved aside, out of docker/", () => {
    const shape = shapeOf({ mediaType: OCI_ARTIFACT_MANIFEST, blobs: [] });
    const hazard = gcHazardOf({ path: BLOB, message: "…", gc: { kind: "manifest", repository: "group/app", digest: D, link: LINK, shape } })!;
    const revision = LINK.slice(0, -"/link".length);
    const target = `/srv/registry/registry-quarantine/repositories/group/app/_manifests/revisions/sha256/${"ab".repeat(32)}`;
    expect(hazard.path).toBe(BLOB);
    expect(hazard.fix).toBe(`mkdir -p ${target.slice(0, target.lastIndexOf("/"))} && mv ${revision} ${target}`);
    expect(hazard.effect).toContain(`copy ${BLOB} first`);
  });

  it("an invalid repository directory, quoted for the shell, and on S3 with aws s3 mv", () => {
    const dir = `${ROOT}/repositories/group/UP PER`;
    const hazard = gcHazardOf({ path: dir, message: "…", gc: { kind: "repository-name", name: "group/UP PER" } })!;
    expect(hazard.reason).toBe("failed to parse repo name group/UP PER: invalid reference format (for each repository in or below it)");
    expect(hazard.fix).toBe(`mkdir -p /srv/registry/registry-quarantine/repositories/group && mv '${dir}' '/srv/registry/registry-quarantine/repositories/group/UP PER'`);
    const s3 = gcHazardOf({ path: "s3://bucket/registry/docker/registry/v2/repositories/group/UPPER", message: "…", gc: { kind: "repository-name", name: "group/UPPER" } })!;
    expect(s3.fix).toBe("aws s3 mv --recursive s3://bucket/registry/docker/registry/v2/repositories/group/UPPER/ s3://bucket/registry/registry-quarantine/repositories/group/UPPER/");
  });

  it("corrupt tag links and files in _manifests/tags stop only -m", () => {
    const tagLink = `${REPO}/_manifests/tags/v1/current/link`;
    const tag = gcHazardOf({ path: tagLink, message: "…", gc: { kind: "tag-link", repository: "group/app", tag: "v1", content: "" } })!;
    expect(tag).toMatchObject({ onlyWithDeleteUntagged: true, reason: expect.stringContaining("failed to retrieve tags for digest …: invalid checksum digest format") });
    expect(tag.fix).toContain(`mv ${REPO}/_manifests/tags/v1 `);
    const file = gcHazardOf({ path: `${REPO}/_manifests/tags/README`, message: "…", gc: { kind: "tags-file", repository: "group/app", entry: "README" } })!;
    expect(file.reason).toContain("README/current/link: not a directory");
    expect(hazardsFor([tag, file], "gitlab-ctl registry-garbage-collect")).toEqual([]);
    expect(hazardsFor([tag, file], "gitlab-ctl registry-garbage-collect -m")).toEqual([tag, file]);
  });

  it("no hazard for a warning without an observation", () => {
    expect(gcHazardOf({ path: BLOB, message: "its manifest blob is missing" })).toBeUndefined();
  });
});

describe("deletesUntagged, addGcHazard, removeGcHazard", () => {
  it("recognises -m and --delete-untagged in a command", () => {
    expect(deletesUntagged("registry garbage-collect -m config.yml")).toBe(true);
    expect(deletesUntagged("registry garbage-collect --delete-untagged=true config.yml")).toBe(true);
    expect(deletesUntagged("registry garbage-collect --dry-run config.yml")).toBe(false);
  });

  it("records each file once, and forgets a manifest the run deleted", () => {
    const report: { gcHazards?: GcHazard[] } = {};
    const shape = { json: "object" as const, schemaVersion: 2, mediaType: "application/x-unknown" };
    const warning: StorageWarning = { path: BLOB, message: "…", gc: { kind: "manifest", repository: "group/app", digest: D, link: LINK, shape } };
    addGcHazard(report, warning);
    addGcHazard(report, warning);
    addGcHazard(report, { path: BLOB, message: "no observation" });
    expect(report.gcHazards).toHaveLength(1);
    removeGcHazard(report, "group/other", D);
    expect(report.gcHazards).toHaveLength(1);
    removeGcHazard(report, "group/app", D);
    expect(report.gcHazards).toEqual([]);
  });
});
