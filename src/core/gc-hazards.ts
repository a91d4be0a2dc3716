/**
 * What the registry's garbage collection stops at, judged from what the storage adapters saw
 * (StorageWarning.gc): each hazard with the collector's own error and a command that fixes or
 * moves the file, with what that command does. Measured against distribution 2.8.2 (Debian's
 * docker-registry, the collector GitLab's omnibus runs): see docs/garbage-collection.md.
 */
import type { Digest } from "./digest.js";
import { OCI_ARTIFACT_MANIFEST, type ManifestShape } from "./manifest.js";
import { MediaType } from "./media-types.js";
import type { GcObservation, StorageWarning } from "./types.js";

/** The schema 2 media types distribution 2.8 decodes (a missing one is decoded as OCI too). */
export const GC_MEDIA_TYPES: ReadonlySet<string> = new Set<string>([
  MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest,
]);

/** One file garbage collection stops at, and how to get past it. */
export interface GcHazard {
  kind: GcObservation["kind"];
  /** The file or directory the collector stops at, as the storage names it. */
  path: string;
  /** Its repository (for `repository-name`, the invalid name itself). */
  repository: string;
  /** The collector's error, as it prints it after `failed to garbage collect: failed to mark: `. */
  reason: string;
  /** Only `-m`/`--delete-untagged` reads this file: plain garbage collection goes past it. */
  onlyWithDeleteUntagged: boolean;
  /** A command an admin can run (as root, on the registry's machine or with its bucket's keys)… */
  fix: string;
  /** …and what it does. */
  effect: string;
}

/**
 * Why distribution 2.8 cannot decode a manifest of this shape (its garbage collection then
 * aborts), or undefined when it can. Only the top level matters to its decoder: a manifest this
 * tool rejects for a bad child digest is marked without complaint there.
 */
export function manifestGcFailure(shape: ManifestShape, digest: Digest): string | undefined {
  const prefix = `failed to retrieve manifest for digest ${digest}: `;
  if (shape.json === "invalid") return `${prefix}invalid character … (the blob is not JSON)`;
  if (shape.json === "not-object" && shape.valueType !== "null") {
    const goType = shape.valueType === "boolean" ? "bool" : shape.valueType ?? "value";
    return `${prefix}json: cannot unmarshal ${goType} into Go value of type manifest.Versioned`;
  }
  const version = shape.schemaVersion ?? 0;
  if (typeof version !== "number" || !Number.isInteger(version)) {
    return `${prefix}its schemaVersion ${JSON.stringify(version)} is not a whole number, which the registry cannot decode`;
  }
  if (version === 1) return undefined;
  if (version !== 2) {
    const artifact = shape.mediaType === OCI_ARTIFACT_MANIFEST ? " (an OCI artifact manifest, which distribution 2.8 does not know)" : "";
    return `${prefix}unrecognized manifest schema version ${version}${artifact}`;
  }
  if (shape.mediaType === undefined || shape.mediaType === "" || GC_MEDIA_TYPES.has(shape.mediaType)) return undefined;
  return `${prefix}errors verifying manifest: unrecognized manifest content type ${shape.mediaType}`;
}

const ENCODED_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * The error go-digest's Parse (what the registry reads every link with) gives for `content`, or
 * undefined when it takes it. `content` undefined: too long to have been read.
 */
export function digestParseError(content: string | undefined): string | undefined {
  if (content === undefined) return "invalid checksum digest format";
  const colon = content.indexOf(":");
  if (colon <= 0 || colon + 1 === content.length) return "invalid checksum digest format";
  const algorithm = content.slice(0, colon);
  const encoded = content.slice(colon + 1);
  const length = ENCODED_LENGTH[algorithm];
  if (length === undefined) {
    return /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(content) ? "unsupported digest algorithm" : "invalid checksum digest format";
  }
  if (encoded.length !== length) return "invalid checksum digest length";
  return /^[a-f0-9]+$/.test(encoded) ? undefined : "invalid checksum digest format";
}

/** The hazard a storage warning describes, or undefined when garbage collection goes past it. */
export function gcHazardOf(warning: StorageWarning): GcHazard | undefined {
  const seen = warning.gc;
  if (!seen) return undefined;
  const path = warning.path;
  switch (seen.kind) {
    case "revision-link": {
      const error = digestParseError(seen.content);
      if (error === undefined) return undefined;
      return {
        kind: seen.kind, path, repository: seen.repository, onlyWithDeleteUntagged: false,
        reason: `${error} (the revision link of ${seen.digest} holds ${held(seen.content)}, not a digest)`,
        fix: writeCommand(path, seen.digest),
        effect: `writes into the link the digest its directory names, as the registry writes links: ${seen.digest} stays in ` +
          `${seen.repository} and garbage collection reads it (should its blob be no manifest, the next run says so)`,
      };
    }
    case "manifest": {
      const reason = manifestGcFailure(seen.shape, seen.digest);
      if (reason === undefined) return undefined;
      const revision = parentOf(seen.link);
      return {
        kind: seen.kind, path, repository: seen.repository, onlyWithDeleteUntagged: false, reason,
        fix: moveCommand(revision, true),
        effect: `unlinks ${seen.digest} from ${seen.repository} by moving its revision directory under registry-quarantine/ ` +
          "(to put back with mv); the registry cannot serve it anyway (its GET fails the same way), so no pull breaks. " +
          `The next garbage collection deletes the blob unless another repository links it: copy ${path} first to keep it`,
      };
    }
    case "repository-name":
      return {
        kind: seen.kind, path, repository: seen.name, onlyWithDeleteUntagged: false,
        reason: `failed to parse repo name ${seen.name}: invalid reference format (for each repository in or below it)`,
        fix: moveCommand(path, true),
        effect: "moves the directory under registry-quarantine/, outside the tree garbage collection walks; the registry's " +
          "API rejects the name, so nothing in it could be pulled. The next garbage collection deletes the blobs only it used",
      };
    case "tag-link": {
      const error = digestParseError(seen.content);
      if (error === undefined) return undefined;
      return {
        kind: seen.kind, path, repository: seen.repository, onlyWithDeleteUntagged: true,
        reason: `failed to retrieve tags for digest …: ${error} (tag "${seen.tag}" holds ${held(seen.content)}, not a digest)`,
        fix: moveCommand(parentOf(parentOf(path)), true),
        effect: `removes tag "${seen.tag}" (which the registry cannot resolve anyway) by moving its directory under registry-quarantine/`,
      };
    }
    case "tags-file":
      return {
        kind: seen.kind, path, repository: seen.repository, onlyWithDeleteUntagged: true,
        reason: `failed to retrieve tags for digest …: ${path}/current/link: not a directory`,
        fix: moveCommand(path, false),
        effect: `moves the file under registry-quarantine/: it is no tag, though the registry lists "${seen.entry}" as one`,
      };
  }
}

/** True when the garbage collection command removes untagged manifests too (`-m`), which reads every tag link. */
export function deletesUntagged(command: string): boolean {
  return command.split(/\s+/).some((word) => word === "-m" || word === "--delete-untagged" || /^--delete-untagged=(?!false)/.test(word));
}

/** The hazards that stop `command`: all but the tag ones, which only `-m` reads. */
export function hazardsFor(hazards: readonly GcHazard[], command: string): GcHazard[] {
  const untagged = deletesUntagged(command);
  return hazards.filter((hazard) => untagged || !hazard.onlyWithDeleteUntagged);
}

/** Records the hazard of `warning`, if any, once per path. */
export function addGcHazard(into: { gcHazards?: GcHazard[] }, warning: StorageWarning): void {
  const hazard = gcHazardOf(warning);
  if (!hazard) return;
  into.gcHazards ??= [];
  if (!into.gcHazards.some((known) => known.path === hazard.path && known.repository === hazard.repository)) into.gcHazards.push(hazard);
}

/** A manifest this run deleted from `repository` no longer stops garbage collection there. */
export function removeGcHazard(from: { gcHazards?: GcHazard[] }, repository: string, digest: Digest): void {
  if (!from.gcHazards) return;
  from.gcHazards = from.gcHazards.filter((h) => !(h.kind === "manifest" && h.repository === repository && h.path.includes(digest.slice(digest.indexOf(":") + 1))));
}

/** What a link held, for people: quoted, and cut short. */
function held(content: string | undefined): string {
  if (content === undefined) return "more than 256 bytes";
  if (content === "") return "nothing";
  return JSON.stringify(content.length > 80 ? `${content.slice(0, 80)}…` : content);
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Where a file goes aside: `<root>/registry-quarantine/<its path below the root>`, outside `docker/`. */
function quarantineOf(path: string): string {
  const at = path.indexOf("/docker/registry/v2/");
  if (at < 0) return `${path}.quarantined`;
  return `${path.slice(0, at)}/registry-quarantine/${path.slice(at + "/docker/registry/v2/".length)}`;
}

function moveCommand(path: string, directory: boolean): string {
  const target = quarantineOf(path);
  if (path.startsWith("s3://")) {
    return directory ? `aws s3 mv --recursive ${quote(`${path}/`)} ${quote(`${target}/`)}` : `aws s3 mv ${quote(path)} ${quote(target)}`;
  }
  return `mkdir -p ${quote(parentOf(target))} && mv ${quote(path)} ${quote(target)}`;
}

function writeCommand(path: string, text: string): string {
  if (path.startsWith("s3://")) return `printf '%s' ${quote(text)} | aws s3 cp - ${quote(path)}`;
  return `printf '%s' ${quote(text)} > ${quote(path)}`;
}

/** Single-quoted for a POSIX shell. */
function quote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
