/**
 * GitLab's way to delete a tag on a registry without tag delete (GitLab's
 * `Projects::ContainerRepository::ThirdParty::DeleteTagsService`, `ContainerRegistry::Client
 * #generate_empty_manifest` and `#put_tag`): upload a tiny config blob, PUT a schema-2 manifest
 * with only that config and no layers under each tag, then DELETE that one manifest by digest,
 * which takes every tag now pointing at it. The bytes here are GitLab's own, so the digests are too.
 */
import { createHash } from "node:crypto";
import { type Digest, parseDigest, shortDigest } from "../core/digest.js";
import { MediaType } from "../core/media-types.js";
import type { RepositoryName } from "../core/repository-name.js";
import { headerValue } from "./http.js";
import type { FetchedManifest, TagDeleteOutcome } from "./ports.js";
import { DeletesDisabledError, RegistryError, parseWwwAuthenticate } from "./registry-error.js";
import {
  deletesDisabled, isGone, protectionOf, type RegistryCall, type RegistryReply, type RegistryTransport,
} from "./registry-transport.js";

/**
 * The config blob, as `Gitlab::Json.pretty_generate({ config: {} })` writes it: 21 bytes,
 * sha256:4435000728ee66e6a80e55637fc22725c256b61de344a2ecdeaac6bdb36e8bc3 (the digest GitLab's
 * client spec expects). It stays in the repository until garbage collection.
 */
export const DUMMY_CONFIG = Buffer.from('{\n  "config": {\n  }\n}');
export const DUMMY_CONFIG_DIGEST = sha256Digest(DUMMY_CONFIG);

/**
 * The manifest GitLab's `put_tag` sends: pretty-printed, no `layers` at all. Its digest is the
 * same for GitLab and this tool, so tags left on it by an interrupted GitLab cleanup are removed
 * with ours: they were dummies waiting for that very DELETE.
 */
export const DUMMY_MANIFEST = Buffer.from(JSON.stringify({
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: "application/vnd.docker.container.image.v1+json", size: DUMMY_CONFIG.length, digest: DUMMY_CONFIG_DIGEST },
}, null, 2));
export const DUMMY_MANIFEST_DIGEST = sha256Digest(DUMMY_MANIFEST);

/** Where the registry serves `/v2/`, and the transport holding the `pull,push,delete` tokens. */
export interface DummyTarget {
  base: URL;
  transport: RegistryTransport;
  name: RepositoryName;
}

/**
 * Makes sure the config blob is in the repository: HEAD, and when absent a monolithic upload
 * (POST, then PUT ?digest=). Repeating the POST after a lost answer only opens another upload
 * session, which the registry purges by itself.
 */
export async function ensureDummyConfig({ base, transport, name }: DummyTarget): Promise<void> {
  const operation = `uploading GitLab's empty config blob to ${name}`;
  const blobUrl = new URL(`v2/${name}/blobs/${DUMMY_CONFIG_DIGEST}`, base);
  const head = await transport.call({ method: "HEAD", url: blobUrl, name, operation });
  if (head.status === 200) return;
  if (head.status !== 404) throw refusal(transport, { method: "HEAD", url: blobUrl, name, operation }, head);
  const start: RegistryCall = { method: "POST", url: new URL(`v2/${name}/blobs/uploads/`, base), name, operation };
  const started = await transport.call(start);
  const location = headerValue(started.headers, "location");
  if (started.status !== 202 || location === undefined) throw refusal(transport, start, started);
  // Location may be relative or absolute, and already carries query parameters (_state).
  const target = new URL(location, base);
  if (target.origin !== base.origin) {
    // The bearer token must never travel to another host.
    throw new RegistryError({ operation, repository: name, message: `the upload location is on another host (${target.origin})` });
  }
  target.searchParams.set("digest", DUMMY_CONFIG_DIGEST);
  const headers = { "content-type": "application/octet-stream" };
  const put: RegistryCall = { method: "PUT", url: target, name, operation, headers, body: DUMMY_CONFIG };
  const stored = await transport.call(put);
  if (stored.status !== 201) throw refusal(transport, put, stored);
}

/**
 * The PUT of the dummy manifest under `tag`. Sent even after Ctrl-C, like everything after a
 * tag's read: a PUT cut off on our side may still land, and only the DELETE that follows it
 * takes the tag off the dummy again.
 */
export function putDummyCall({ base, name }: DummyTarget, tag: string, operation: string): RegistryCall {
  const url = new URL(`v2/${name}/manifests/${tag}`, base);
  const headers = { "content-type": MediaType.dockerManifest };
  return { method: "PUT", url, name, operation, headers, body: DUMMY_MANIFEST, finishing: true };
}

/** True when the registry stored the dummy under the digest computed here (it always should). */
export function storedAsDummy(reply: RegistryReply): boolean {
  const stored = headerValue(reply.headers, "docker-content-digest") ?? DUMMY_MANIFEST_DIGEST;
  return reply.status === 201 && stored === DUMMY_MANIFEST_DIGEST;
}

/**
 * One DELETE of the dummy by digest for every tag moved onto it (tag -> its manifest before).
 * Sent even after Ctrl-C: tags left on the dummy would show an empty image. 404 means someone
 * deleted the dummy first (GitLab's own cleanup), and our tags with it. If it fails, each tag is
 * put back on its manifest before the failure is reported; 405 then stops the run.
 */
export async function deleteDummyFor(
  target: DummyTarget, moved: ReadonlyMap<string, FetchedManifest>,
): Promise<Map<string, TagDeleteOutcome>> {
  const { base, transport, name } = target;
  const digest = DUMMY_MANIFEST_DIGEST;
  const url = new URL(`v2/${name}/manifests/${digest}`, base);
  const operation = `deleting the empty manifest ${name}@${shortDigest(digest)}…`;
  const call: RegistryCall = { method: "DELETE", url, name, digest, operation, finishing: true };
  const reply = await transport.call(call).catch((error: unknown) => {
    if (error instanceof RegistryError && !(error instanceof DeletesDisabledError)) return error;
    throw error;
  });
  const outcomes = new Map<string, TagDeleteOutcome>();
  if (!(reply instanceof RegistryError) && ((reply.status >= 200 && reply.status < 300) || isGone(reply))) {
    for (const tag of moved.keys()) outcomes.set(tag, { kind: "deleted" });
    return outcomes;
  }
  const entry = reply instanceof RegistryError ? undefined : protectionOf(reply);
  // The token's hint already says what a 401 insufficient_scope on a DELETE means.
  const why = reply instanceof RegistryError ? reply.message : transport.failure(call, reply).message;
  for (const [tag, original] of moved) {
    const message = `deleting tag ${name}:${tag}: ${why}; ${await putBack(target, tag, original)}`;
    outcomes.set(tag, entry ? { kind: "protected", message } : { kind: "failed", message });
  }
  if (!(reply instanceof RegistryError) && reply.status === 405) throw deletesDisabled(call, reply);
  return outcomes;
}

/** PUTs the tag's manifest back under it (even after Ctrl-C), and says how that went. */
export async function putBack({ base, transport, name }: DummyTarget, tag: string, original: FetchedManifest): Promise<string> {
  const digest = sha256Digest(original.bytes);
  const call: RegistryCall = {
    method: "PUT", url: new URL(`v2/${name}/manifests/${tag}`, base), name, operation: `putting tag ${name}:${tag} back`,
    headers: { "content-type": original.mediaType }, body: original.bytes, finishing: true,
  };
  const reply = await transport.call(call).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  if (!(reply instanceof Error) && reply.status === 201) return `the tag was put back on ${digest}`;
  const why = reply instanceof Error ? reply.message : transport.failure(call, reply).message;
  return `putting it back failed too (${why}): the tag now shows an empty image; point it at ${digest} again ` +
    "(gitlab-registry-cleanup restore with the journal)";
}

/**
 * The error for a refused upload or PUT, saying that push is missing when the registry asked for
 * a scope the token does not have (GitLab drops denied actions silently, GITLAB.md §1).
 */
export function refusal(transport: RegistryTransport, call: RegistryCall, reply: RegistryReply): RegistryError {
  const challenge = parseWwwAuthenticate(headerValue(reply.headers, "www-authenticate"));
  if (reply.status === 401 && challenge?.error === "insufficient_scope") {
    const { operation, name } = call;
    return new RegistryError({ operation, status: 401, code: "UNAUTHORIZED", repository: name, message: pushNeeded(name) });
  }
  return transport.failure(call, reply);
}

/** Why push is needed, and who has it. */
function pushNeeded(name: RepositoryName): string {
  return `401 insufficient_scope: the token has no push right in ${name}. This registry cannot delete a tag by name, ` +
    "so the tag is first moved onto an empty manifest (GitLab's own method), which needs push: the Developer role " +
    "or higher in the project (a personal access token needs the `api` scope), on a repository path not protected against pushes";
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Buffer): Digest {
  return parseDigest(`sha256:${createHash("sha256").update(bytes).digest("hex")}`)!;
}
