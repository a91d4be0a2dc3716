import { describe, expect, it } from "vitest";
import { type ParseResult, parseManifest } from "../../src/core/manifest.js";
import { MediaType } from "../../src/core/media-types.js";
import { fakeDigest } from "../helpers/plan-builders.js";

const d = fakeDigest;
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const parse = (value: unknown): ParseResult => parseManifest(bytes(value));

function parsed(value: unknown) {
  const result = parse(value);
  if (!result.ok) throw new Error(`expected a manifest, got: ${result.problem}`);
  return result.manifest;
}

const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest: d("config"), size: 1470 };
const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: d("layer"), size: 3_000_000 };
const ociImage = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] };
const amd64 = { mediaType: MediaType.ociManifest, digest: d("amd64"), size: 500, platform: { os: "linux", architecture: "amd64" } };
const armV7 = {
  mediaType: MediaType.ociManifest,
  digest: d("arm"),
  size: 500,
  platform: { os: "linux", architecture: "arm", variant: "v7" },
};

describe("parseManifest: what it understands", () => {
  it("reads a Docker v2 manifest", () => {
    const manifest = parsed({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { ...config, mediaType: "application/vnd.docker.container.image.v1+json" },
      layers: [{ ...layer, mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" }],
    });
    expect(manifest).toEqual({
      kind: "image",
      mediaType: MediaType.dockerManifest,
      children: [],
      blobs: [
        { digest: d("config"), size: 1470 },
        { digest: d("layer"), size: 3_000_000 },
      ],
    });
  });

  it("reads an OCI manifest, and infers its media type when it declares none", () => {
    expect(parsed(ociImage)).toMatchObject({ kind: "image", mediaType: MediaType.ociManifest });
    const { mediaType: _, ...bare } = ociImage;
    expect(parsed(bare)).toEqual(parsed(ociImage));
  });

  it("reads an OCI index with platforms, with or without a declared media type", () => {
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [amd64, armV7] };
    const expected = {
      kind: "index",
      mediaType: MediaType.ociIndex,
      blobs: [],
      children: [
        { digest: d("amd64"), mediaType: MediaType.ociManifest, platform: "linux/amd64" },
        { digest: d("arm"), mediaType: MediaType.ociManifest, platform: "linux/arm/v7" },
      ],
    };
    expect(parsed(index)).toEqual(expected);
    const { mediaType: _, ...bare } = index;
    expect(parsed(bare)).toEqual(expected);
  });

  it("reads a Docker manifest list", () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.dockerList,
      manifests: [{ ...amd64, mediaType: MediaType.dockerManifest }],
    };
    expect(parsed(list)).toEqual({
      kind: "index",
      mediaType: MediaType.dockerList,
      blobs: [],
      children: [{ digest: d("amd64"), mediaType: MediaType.dockerManifest, platform: "linux/amd64" }],
    });
  });

  it("keeps index entries that are blobs (buildx cache) and entries without platform", () => {
    const cache = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: d("cache"), size: 1 }, { digest: d("bare") }],
    };
    expect(parsed(cache).children).toEqual([
      { digest: d("cache"), mediaType: "application/vnd.buildkit.cacheconfig.v0" },
      { digest: d("bare") },
    ]);
  });

  it("reads schema 1 manifests, signed and unsigned, with deduplicated layers", () => {
    const unsigned = {
      schemaVersion: 1,
      name: "group/app",
      tag: "old",
      architecture: "amd64",
      fsLayers: [{ blobSum: d("a") }, { blobSum: d("b") }, { blobSum: d("a") }],
      history: [],
    };
    const blobs = [
      { digest: d("a"), size: 0 },
      { digest: d("b"), size: 0 },
    ];
    expect(parsed(unsigned)).toEqual({ kind: "schema1", mediaType: MediaType.dockerSchema1, children: [], blobs });
    const signed = { ...unsigned, signatures: [{ header: {}, signature: "x", protected: "y" }] };
    expect(parsed(signed)).toEqual({ kind: "schema1", mediaType: MediaType.dockerSchema1Signed, children: [], blobs });
  });

  it("reads an OCI referrer's subject and artifactType", () => {
    const referrer = {
      ...ociImage,
      artifactType: "application/spdx+json",
      subject: { mediaType: MediaType.ociManifest, digest: d("subject"), size: 700 },
    };
    expect(parsed(referrer)).toMatchObject({ subject: d("subject"), artifactType: "application/spdx+json" });
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [], subject: { digest: d("subject") } };
    expect(parsed(index)).toMatchObject({ kind: "index", subject: d("subject"), children: [] });
  });

  it("counts a missing or negative blob size as 0 and accepts a manifest without config", () => {
    const manifest = parsed({ schemaVersion: 2, layers: [{ digest: d("x") }, { digest: d("y"), size: -5 }] });
    expect(manifest.blobs).toEqual([
      { digest: d("x"), size: 0 },
      { digest: d("y"), size: 0 },
    ]);
  });

  it("accepts a Buffer as well as a Uint8Array", () => {
    expect(parseManifest(Buffer.from(JSON.stringify(ociImage))).ok).toBe(true);
  });
});

describe("parseManifest: what it refuses, without throwing", () => {
  const problems: Array<[string, unknown, RegExp]> = [
    ["malformed JSON", "{\"schemaVersion\": 2,", /not valid JSON/],
    ["empty blob", "", /not valid JSON/],
    ["not UTF-8 JSON", "\u0000\u0001", /not valid JSON/],
    ["a JSON array", [1, 2], /not a JSON object/],
    ["JSON null", "null", /not a JSON object/],
    ["schemaVersion 3", { ...ociImage, schemaVersion: 3 }, /unsupported schemaVersion 3/],
    ["schemaVersion missing", { mediaType: MediaType.ociManifest, layers: [] }, /unsupported schemaVersion undefined/],
    ["schemaVersion as a string", { ...ociImage, schemaVersion: "2" }, /unsupported schemaVersion "2"/],
    ["declared index without manifests", { schemaVersion: 2, mediaType: MediaType.dockerList }, /no manifests list/],
    ["nothing recognisable", { schemaVersion: 2, mediaType: "application/x-unknown" }, /unrecognised manifest \(mediaType application\/x-unknown\)/],
    ["index entry without digest", { schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, size: 1 }] }, /entry without a valid digest/],
    ["index entry with a bad digest", { schemaVersion: 2, manifests: [{ digest: "sha256:abc" }] }, /entry without a valid digest/],
    ["index entry that is not an object", { schemaVersion: 2, manifests: ["sha256:abc"] }, /entry without a valid digest/],
    ["layer without digest", { ...ociImage, layers: [{ size: 5 }] }, /blob without a valid digest/],
    ["config with an uppercase digest", { ...ociImage, config: { digest: d("c").toUpperCase() } }, /blob without a valid digest/],
    ["schema 1 layer without blobSum", { schemaVersion: 1, fsLayers: [{}] }, /without a valid blobSum/],
    ["subject without digest", { ...ociImage, subject: { size: 3 } }, /subject without a valid digest/],
    ["subject that is null", { ...ociImage, subject: null }, /subject without a valid digest/],
  ];

  it.each(problems)("%s", (_name, input, problem) => {
    const result = parse(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toMatch(problem);
  });
});
