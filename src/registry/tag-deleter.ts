/**
 * The TagDeleter over HTTP: removes tags by name and never by deleting the manifest they point at
 * (GITLAB.md §12). Registries with tag delete get `DELETE /v2/<name>/manifests/<tag>`; the others
 * GitLab's dummy-manifest method (registry/dummy-manifest.ts), with tokens that include push.
 */
import { isTagName } from "../core/tag-name.js";
import { randomBytes } from "node:crypto";
import type { Dispatcher } from "undici";
import { type Digest, parseDigest } from "../core/digest.js";
import { MANIFEST_ACCEPT } from "../core/media-types.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { TokenProvider } from "../gitlab/ports.js";
import {
  type DummyTarget, deleteDummyFor, ensureDummyConfig, putBack, putDummyCall, refusal, sha256Digest, storedAsDummy,
} from "./dummy-manifest.js";
import { headerValue } from "./http.js";
import type { FetchedManifest, TagDeleteMethod, TagDeleteOutcome, TagDeleter } from "./ports.js";
import { DeletesDisabledError, RegistryError } from "./registry-error.js";
import { RegistryTransport, deletesDisabled, isGone, protectionOf, type RegistryCall } from "./registry-transport.js";
import type { RetryPolicy } from "./retry.js";

export interface RegistryTagDeleterOptions {
  /** Where the registry serves `/v2/`. */
  baseUrl: URL;
  /** The run's `pull,delete` tokens: detection, reading tags, and the registry's own tag delete. */
  tokens: TokenProvider;
  /**
   * `pull,push,delete` tokens, used by the dummy-manifest method only (create this provider only
   * when tagDeleteMethod answers `dummy-manifest`). Without it, that method fails every tag.
   */
  pushTokens?: TokenProvider;
  dispatcher: Dispatcher;
  retry?: RetryPolicy;
  /**
   * Ctrl-C: aborts reads in flight and stops before the next tag. A change already started (the
   * DELETE by tag, the PUT of the dummy and the dummy's DELETE after it) is finished, so no tag
   * is left on the dummy; tags not reached are `failed`, "not attempted".
   */
  signal?: AbortSignal;
  /** The tag the detection asks to delete; default a random name no registry holds. */
  probeTag?: string;
}

/** The tag is still on the expected digest; its manifest, to put it back on if need be. */
type Current = { kind: "current"; original: FetchedManifest };
/** The tag is now on the dummy; the manifest to put it back on if the dummy's DELETE fails. */
type Moved = { kind: "moved"; original: FetchedManifest };


/** Deletes tags through the registry's HTTP API. One instance serves the whole run. */
export class RegistryTagDeleter implements TagDeleter {
  readonly #base: URL;
  readonly #transport: RegistryTransport;
  readonly #push: RegistryTransport | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #probeTag: string;
  #method: Promise<TagDeleteMethod> | undefined;
  /** Repositories where the dummy config blob is known to be present. */
  readonly #configIn = new Set<RepositoryName>();

  constructor(options: RegistryTagDeleterOptions) {
    const href = options.baseUrl.href;
    this.#base = new URL(href.endsWith("/") ? href : `${href}/`);
    const { dispatcher, retry, signal } = options;
    const shared = { dispatcher, ...(retry ? { retry } : {}), ...(signal ? { signal } : {}) };
    this.#transport = new RegistryTransport({ ...shared, tokens: options.tokens });
    this.#push = options.pushTokens ? new RegistryTransport({ ...shared, tokens: options.pushTokens }) : undefined;
    this.#signal = signal;
    this.#probeTag = options.probeTag ?? `gitlab-registry-cleanup-probe-${randomBytes(16).toString("hex")}`;
  }

  /**
   * As GitLab decides, `OPTIONS /v2/<name>/manifests/<tag>` listing DELETE in `Allow`; then, since
   * distribution 2.8 lists DELETE there too and refuses a tag with 400 DIGEST_INVALID, a DELETE of
   * a random tag nobody has: 404 MANIFEST_UNKNOWN means tags are deleted by name. Cached per run;
   * a failure is not, so the next call asks again.
   */
  tagDeleteMethod(name: RepositoryName): Promise<TagDeleteMethod> {
    const pending = (this.#method ??= this.#detect(name));
    pending.catch(() => {
      if (this.#method === pending) this.#method = undefined;
    });
    return pending;
  }

  /**
   * Deletes each tag (tag -> the digest the plan saw), one outcome per tag. With tag delete: GET
   * the tag, DELETE it by name. Otherwise: the config blob once per repository, then for each tag
   * GET it and PUT the dummy under it, then one DELETE of the dummy for all of them; if that
   * DELETE fails, each tag is put back on its manifest. The DELETE of the dummy also removes any
   * other tag on the dummy digest: only GitLab's own interrupted cleanups leave tags there, and
   * they were meant to go. The original manifests stay, untagged; they are never deleted here.
   */
  async deleteTags(name: RepositoryName, tags: ReadonlyMap<string, Digest>): Promise<Map<string, TagDeleteOutcome>> {
    const outcomes = new Map<string, TagDeleteOutcome>();
    const valid = new Map<string, Digest>();
    for (const [tag, digest] of tags) {
      if (isTagName(tag)) valid.set(tag, digest);
      else outcomes.set(tag, { kind: "failed", message: `deleting tag ${name}:${tag}: not a valid tag name` });
    }
    if (valid.size > 0) {
      if ((await this.tagDeleteMethod(name)) === "tag-delete") await this.#deleteByName(name, valid, outcomes);
      else await this.#deleteThroughDummy(name, valid, outcomes);
    }
    for (const tag of tags.keys()) {
      const message = `deleting tag ${name}:${tag}: not attempted, the run was interrupted`;
      if (!outcomes.has(tag)) outcomes.set(tag, { kind: "failed", message });
    }
    return outcomes;
  }

  async #detect(name: RepositoryName): Promise<TagDeleteMethod> {
    const url = new URL(`v2/${name}/manifests/${this.#probeTag}`, this.#base);
    const operation = `checking whether the registry deletes tags by name (in ${name})`;
    const options = await this.#transport.call({ method: "OPTIONS", url, name, operation });
    const allow = headerValue(options.headers, "allow") ?? "";
    if (options.status < 200 || options.status >= 300 || !/\bDELETE\b/i.test(allow)) return "dummy-manifest";
    const call: RegistryCall = { method: "DELETE", url, name, operation };
    const reply = await this.#transport.call(call);
    if ((reply.status >= 200 && reply.status < 300) || isGone(reply)) return "tag-delete";
    if (reply.status === 405) throw deletesDisabled(call, reply);
    // 400 DIGEST_INVALID (distribution 2.x), or a 404 from a router without that route.
    if (reply.status === 400 || reply.status === 404) return "dummy-manifest";
    throw this.#transport.failure(call, reply);
  }

  async #deleteByName(
    name: RepositoryName, tags: Map<string, Digest>, outcomes: Map<string, TagDeleteOutcome>,
  ): Promise<void> {
    for (const [tag, expected] of tags) {
      if (this.#signal?.aborted) return;
      const operation = `deleting tag ${name}:${tag}`;
      const outcome = await this.#guard(operation, async (): Promise<TagDeleteOutcome> => {
        const url = this.#manifestUrl(name, tag);
        const seen = await readTag(this.#transport, url, name, expected, operation);
        if (seen.kind !== "current") return seen;
        const call: RegistryCall = { method: "DELETE", url, name, operation, finishing: true };
        const reply = await this.#transport.call(call);
        if (reply.status >= 200 && reply.status < 300) return { kind: "deleted" };
        if (isGone(reply)) return { kind: "already-gone" };
        const entry = protectionOf(reply);
        if (entry) return { kind: "protected", message: entry.message || entry.code };
        if (reply.status === 405) throw deletesDisabled(call, reply);
        return { kind: "failed", message: this.#transport.failure(call, reply).message };
      });
      if (outcome) outcomes.set(tag, outcome);
    }
  }

  async #deleteThroughDummy(
    name: RepositoryName, tags: Map<string, Digest>, outcomes: Map<string, TagDeleteOutcome>,
  ): Promise<void> {
    const failAll = (why: string): void => {
      for (const tag of tags.keys()) outcomes.set(tag, { kind: "failed", message: `deleting tag ${name}:${tag}: ${why}` });
    };
    const transport = this.#push;
    if (!transport) {
      return failAll("this registry cannot delete a tag by name, and moving the tag onto an empty manifest first " +
        "needs a token with push, which this run did not ask GitLab for");
    }
    const target: DummyTarget = { base: this.#base, transport, name };
    try {
      if (!this.#configIn.has(name)) await ensureDummyConfig(target);
      this.#configIn.add(name);
    } catch (error) {
      if (this.#signal?.aborted && !(error instanceof RegistryError)) return;
      if (error instanceof DeletesDisabledError || !(error instanceof RegistryError)) throw error;
      return failAll(error.message);
    }
    const moved = new Map<string, FetchedManifest>();
    for (const [tag, expected] of tags) {
      if (this.#signal?.aborted) break;
      const operation = `deleting tag ${name}:${tag}`;
      const step = await this.#guard(operation, () => this.#moveOntoDummy(target, tag, expected, operation));
      if (step?.kind === "moved") moved.set(tag, step.original);
      else if (step) outcomes.set(tag, step);
    }
    if (moved.size === 0) return;
    for (const [tag, outcome] of await deleteDummyFor(target, moved)) outcomes.set(tag, outcome);
  }

  /** Reads the tag and, when it is still on `expected`, PUTs the dummy under it. */
  async #moveOntoDummy(
    target: DummyTarget, tag: string, expected: Digest, operation: string,
  ): Promise<TagDeleteOutcome | Moved> {
    const { transport, name } = target;
    const seen = await readTag(transport, this.#manifestUrl(name, tag), name, expected, operation);
    if (seen.kind !== "current") return seen;
    // The one gap in which a push of this tag is overwritten: between that read and this PUT.
    const call = putDummyCall(target, tag, operation);
    const reply = await transport.call(call);
    if (storedAsDummy(reply)) return { kind: "moved", original: seen.original };
    const entry = protectionOf(reply);
    if (entry) return { kind: "protected", message: entry.message || entry.code };
    if (reply.status !== 201) return { kind: "failed", message: refusal(transport, call, reply).message };
    // Stored, but not under the dummy's digest: never delete whatever that is; put the tag back.
    const stored = headerValue(reply.headers, "docker-content-digest");
    const back = await putBack(target, tag, seen.original);
    return { kind: "failed", message: `${operation}: the registry stored the empty manifest as ${stored}; ${back}` };
  }

  /**
   * Runs one step; a RegistryError becomes a `failed` outcome. DeletesDisabledError and anything
   * that is not a registry answer are rethrown; undefined when the run was interrupted.
   */
  async #guard<T>(
    operation: string, step: () => Promise<T | TagDeleteOutcome>,
  ): Promise<T | TagDeleteOutcome | undefined> {
    try {
      return await step();
    } catch (error) {
      if (this.#signal?.aborted && !(error instanceof RegistryError)) return undefined;
      if (error instanceof DeletesDisabledError || !(error instanceof RegistryError)) throw error;
      const message = error.message.startsWith(operation) ? error.message : `${operation}: ${error.message}`;
      return { kind: "failed", message };
    }
  }

  #manifestUrl(name: RepositoryName, reference: string): URL {
    return new URL(`v2/${name}/manifests/${reference}`, this.#base);
  }
}

/**
 * GET of the tag right before it is changed: `current` (still on `expected`, with the bytes to put
 * it back on), `changed`, `already-gone`, or `failed`.
 */
async function readTag(
  transport: RegistryTransport, url: URL, name: RepositoryName, expected: Digest, operation: string,
): Promise<TagDeleteOutcome | Current> {
  const call: RegistryCall = { method: "GET", url, name, operation, headers: { accept: MANIFEST_ACCEPT } };
  const reply = await transport.call(call);
  if (isGone(reply)) return { kind: "already-gone" };
  if (reply.status !== 200) return { kind: "failed", message: transport.failure(call, reply).message };
  const actual = sha256Digest(reply.body);
  const digest = parseDigest(headerValue(reply.headers, "docker-content-digest") ?? "") ?? actual;
  if (digest !== expected) return { kind: "changed", digest };
  if (actual !== expected) return { kind: "failed", message: `${operation}: the registry served content of digest ${actual}` };
  const mediaType = headerValue(reply.headers, "content-type")?.split(";")[0]?.trim() || "application/octet-stream";
  return { kind: "current", original: { bytes: reply.body, mediaType } };
}
