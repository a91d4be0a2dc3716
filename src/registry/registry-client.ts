/**
 * The registry's HTTP API (`/v2`) over undici: tags, manifest GET/HEAD/DELETE/PUT, and the
 * authenticated ping. Requests go through registry-transport.ts: retries, and exactly one token
 * refresh on a 401.
 */
import { createHash } from "node:crypto";
import type { Dispatcher } from "undici";
import { type Digest, digestAlgorithm, digestFromParts, digestHex, parseDigest } from "../core/digest.js";
import { UsageError } from "../core/errors.js";
import { MANIFEST_ACCEPT } from "../core/media-types.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { TokenProvider } from "../gitlab/ports.js";
import { displayUrl, headerValue, nextLinkTarget } from "./http.js";
import type { DeleteOutcome, FetchedManifest, RegistryApi, RegistryFacts } from "./ports.js";
import { RegistryError, describeManifest } from "./registry-error.js";
import {
  RegistryTransport, deletesDisabled, isGone, protectionOf, type RegistryCall as Call, type RegistryReply as Reply,
} from "./registry-transport.js";
import type { RetryPolicy } from "./retry.js";

export interface RegistryClientOptions {
  /** Where the registry serves `/v2/`, e.g. `https://registry.example.com` or `http://127.0.0.1:5000`. */
  baseUrl: URL;
  tokens: TokenProvider;
  /** The run's one dispatcher (registry/http.ts createDispatcher). */
  dispatcher: Dispatcher;
  retry?: RetryPolicy;
  /** Aborts requests in flight and waits between retries (Ctrl-C). */
  signal?: AbortSignal;
}

/** What HEAD says about a manifest. */
export interface ManifestHead {
  mediaType: string;
  size: number;
}

const TAGS_PAGE_SIZE = 1000;

/** The RegistryApi over HTTP. One instance serves the whole run and every repository. */
export class RegistryClient implements RegistryApi {
  readonly #base: URL;
  readonly #transport: RegistryTransport;

  constructor(options: RegistryClientOptions) {
    this.#transport = new RegistryTransport(options);
    const href = options.baseUrl.href;
    this.#base = new URL(href.endsWith("/") ? href : `${href}/`);
  }

  /** Authenticated `GET /v2/`, reading whether GitLab's registry keeps metadata in a database. */
  async ping(name: RepositoryName): Promise<RegistryFacts> {
    const url = new URL("v2/", this.#base);
    const call: Call = { method: "GET", url, name, operation: `checking the registry at ${displayUrl(url)}` };
    const reply = await this.#transport.call(call);
    if (reply.status === 404) {
      throw new UsageError(
        `${call.operation}: GET /v2/ answered 404, so ${displayUrl(this.#base)} does not look like a container registry. ` +
          "Give -r the registry's URL (e.g. registry.example.com or gitlab.example.com:5050), not GitLab's.",
      );
    }
    if (reply.status !== 200) throw this.#transport.failure(call, reply);
    const header = headerValue(reply.headers, "gitlab-container-registry-database-enabled")?.trim().toLowerCase();
    return header === "true" || header === "false" ? { databaseEnabled: header === "true" } : {};
  }

  /** Every tag, following `Link: <…>; rel="next"` pages; `"tags": null` is an empty list. */
  async listTags(name: RepositoryName): Promise<string[]> {
    const operation = `listing the tags of ${name}`;
    const tags: string[] = [];
    const visited = new Set<string>();
    let url: URL | undefined = new URL(`v2/${name}/tags/list?n=${TAGS_PAGE_SIZE}`, this.#base);
    while (url) {
      if (visited.has(url.href)) {
        throw new RegistryError({ operation, repository: name, message: "the registry's pagination repeats a page" });
      }
      visited.add(url.href);
      const call: Call = { method: "GET", url, name, operation, headers: { accept: "application/json" } };
      const reply = await this.#transport.call(call);
      if (reply.status !== 200) throw this.#transport.failure(call, reply);
      tags.push(...parseTagPage(reply.body, call));
      url = this.#nextPage(reply, call);
    }
    return tags;
  }

  /** 202 deleted; 404 MANIFEST_UNKNOWN already gone; 405 DeletesDisabledError; PROTECTED_MANIFEST skipped. */
  async deleteManifest(name: RepositoryName, digest: Digest): Promise<DeleteOutcome> {
    const call = this.#manifestCall("DELETE", name, digest, "deleting");
    const reply = await this.#transport.call(call);
    if (reply.status >= 200 && reply.status < 300) return { kind: "deleted" };
    if (isGone(reply)) return { kind: "already-gone" };
    const protectedEntry = protectionOf(reply);
    if (protectedEntry) return { kind: "protected", message: protectedEntry.message || "protected manifest" };
    if (reply.status === 405) throw deletesDisabled(call, reply);
    throw this.#transport.failure(call, reply);
  }

  /** The manifest's bytes as stored (checked against the digest), or undefined on 404. */
  async getManifest(name: RepositoryName, digest: Digest): Promise<FetchedManifest | undefined> {
    const call = this.#manifestCall("GET", name, digest, "reading manifest", { accept: MANIFEST_ACCEPT });
    const reply = await this.#transport.call(call);
    if (reply.status === 404) return undefined;
    if (reply.status !== 200) throw this.#transport.failure(call, reply);
    // Never hand on bytes that are not the manifest asked for (a proxy's error page, a mix-up).
    const hex = createHash(digestAlgorithm(digest)).update(reply.body).digest("hex");
    if (hex !== digestHex(digest)) {
      const message = `the registry served content of digest ${digestAlgorithm(digest)}:${hex}`;
      throw new RegistryError({ operation: call.operation, repository: name, digest, message });
    }
    return { bytes: reply.body, mediaType: mediaTypeOf(reply) ?? mediaTypeInside(reply.body) };
  }

  /** HEAD of a manifest: its media type and size, or undefined on 404. Not part of RegistryApi. */
  async headManifest(name: RepositoryName, digest: Digest): Promise<ManifestHead | undefined> {
    const call = this.#manifestCall("HEAD", name, digest, "checking manifest", { accept: MANIFEST_ACCEPT });
    const reply = await this.#transport.call(call);
    if (reply.status === 404) return undefined;
    if (reply.status !== 200) throw this.#transport.failure(call, reply);
    const size = Number(headerValue(reply.headers, "content-length") ?? Number.NaN);
    return { mediaType: mediaTypeOf(reply) ?? "", size: Number.isFinite(size) ? size : 0 };
  }

  /**
   * Uploads a manifest by digest (restore). Needs `push`: build this client with a TokenProvider
   * asking for `pull,push` (the cleanup's `pull,delete` tokens get 401 insufficient_scope).
   */
  async putManifest(name: RepositoryName, digest: Digest, manifest: FetchedManifest): Promise<void> {
    const headers = { "content-type": manifest.mediaType };
    const call = { ...this.#manifestCall("PUT", name, digest, "uploading manifest", headers), body: manifest.bytes };
    const reply = await this.#transport.call(call);
    if (reply.status < 200 || reply.status >= 300) throw this.#transport.failure(call, reply);
    const stored = headerValue(reply.headers, "docker-content-digest");
    if (stored !== undefined && stored !== digest) {
      throw new RegistryError({
        operation: call.operation, repository: name, digest, message: `the registry stored it as ${stored}`,
      });
    }
  }

  /**
   * The digest `tag` points at now, or undefined when the registry says it has no such tag (404
   * MANIFEST_UNKNOWN or NAME_UNKNOWN; a bare 404, say from a misrouted proxy, is a failure).
   * Restore asks before putting a tag back, so as never to move a tag pushed again since. A GET,
   * not a HEAD: a HEAD's 404 has no body to tell the registry's answer from a proxy's. Not part
   * of RegistryApi.
   */
  async tagDigest(name: RepositoryName, tag: string): Promise<Digest | undefined> {
    const url = new URL(`v2/${name}/manifests/${tag}`, this.#base);
    const call: Call = { method: "GET", url, name, operation: `checking tag ${name}:${tag}`, headers: { accept: MANIFEST_ACCEPT } };
    const reply = await this.#transport.call(call);
    if (isGone(reply)) return undefined;
    if (reply.status !== 200) throw this.#transport.failure(call, reply);
    const stated = parseDigest(headerValue(reply.headers, "docker-content-digest") ?? "");
    return stated ?? digestFromParts("sha256", createHash("sha256").update(reply.body).digest("hex"))!;
  }

  /**
   * Points `tag` at the manifest `digest` by a PUT by tag with its exact bytes (restore), which
   * also stores the manifest if it is missing. Needs `push`, like putManifest. Throws when the
   * registry stores the bytes as another digest.
   */
  async putTag(name: RepositoryName, tag: string, digest: Digest, manifest: FetchedManifest): Promise<void> {
    const url = new URL(`v2/${name}/manifests/${tag}`, this.#base);
    const operation = `uploading tag ${name}:${tag}`;
    const call: Call = { method: "PUT", url, name, digest, operation, headers: { "content-type": manifest.mediaType }, body: manifest.bytes };
    const reply = await this.#transport.call(call);
    if (reply.status < 200 || reply.status >= 300) throw this.#transport.failure(call, reply);
    const stored = headerValue(reply.headers, "docker-content-digest");
    if (stored !== undefined && stored !== digest) {
      throw new RegistryError({ operation, repository: name, digest, message: `the registry stored it as ${stored}` });
    }
  }

  #manifestCall(
    method: Call["method"], name: RepositoryName, digest: Digest, verb: string, headers?: Record<string, string>,
  ): Call {
    const url = new URL(`v2/${name}/manifests/${digest}`, this.#base);
    const operation = describeManifest(verb, name, digest);
    return { method, url, name, digest, operation, ...(headers ? { headers } : {}) };
  }

  /** The next page from the `Link` header, resolved against the base URL and kept on its origin. */
  #nextPage(reply: Reply, call: Call): URL | undefined {
    const target = nextLinkTarget(headerValue(reply.headers, "link"));
    if (target === undefined) return undefined;
    const url = new URL(target, this.#base);
    if (url.origin !== this.#base.origin) {
      // The bearer token must never travel to another host.
      throw new RegistryError({
        operation: call.operation, repository: call.name, message: `the next page is on another host (${url.origin})`,
      });
    }
    return url;
  }
}

function parseTagPage(body: Buffer, call: Call): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    json = undefined;
  }
  const tags = (json as { tags?: unknown } | undefined)?.tags;
  if (tags === null) return [];
  if (Array.isArray(tags) && tags.every((tag) => typeof tag === "string")) return tags;
  const message = "the registry's answer has no tags list";
  throw new RegistryError({ operation: call.operation, repository: call.name, message });
}

function mediaTypeOf(reply: Reply): string | undefined {
  return headerValue(reply.headers, "content-type")?.split(";")[0]?.trim() || undefined;
}

/** The manifest's own `mediaType` field, for registries that omit Content-Type. */
function mediaTypeInside(bytes: Buffer): string {
  try {
    const mediaType = (JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown }).mediaType;
    return typeof mediaType === "string" ? mediaType : "application/octet-stream";
  } catch {
    return "application/octet-stream";
  }
}
