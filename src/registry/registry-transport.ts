/**
 * The request machinery every registry adapter shares: one authenticated exchange over undici,
 * retried by registry/retry.ts, with exactly one token refresh on a 401, and failures wrapped
 * with what was being done. RegistryClient and the TagDeleter each hold one per token source.
 */
import type { IncomingHttpHeaders } from "node:http";
import { request, type Dispatcher } from "undici";
import type { Digest } from "../core/digest.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { TokenProvider } from "../gitlab/ports.js";
import { bearerAuthorization, headerValue, readBody } from "./http.js";
import {
  DeletesDisabledError, type RegistryError, errorFromNetwork, errorFromReply, parseRegistryErrors,
} from "./registry-error.js";
import { RETRYABLE_STATUSES, withRetry, type RetryPolicy } from "./retry.js";

export interface RegistryTransportOptions {
  tokens: TokenProvider;
  /** The run's one dispatcher (registry/http.ts createDispatcher). */
  dispatcher: Dispatcher;
  retry?: RetryPolicy;
  /** Aborts requests in flight and waits between retries (Ctrl-C). */
  signal?: AbortSignal;
}

/** One request to the registry, with what it is for (the start of any error message). */
export interface RegistryCall {
  method: "GET" | "HEAD" | "DELETE" | "PUT" | "POST" | "OPTIONS";
  url: URL;
  /** e.g. `deleting group/app@sha256:ab12…`; never contains a secret. */
  operation: string;
  name: RepositoryName;
  digest?: Digest;
  headers?: Record<string, string>;
  body?: Buffer;
  /**
   * Sent even after the run's signal aborted: for the one request that finishes a sequence whose
   * half-done state is worse than one more request (the tag deleter's DELETE of its dummy).
   */
  finishing?: boolean;
}

/** A registry answer, body read in full. */
export interface RegistryReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Manifests are at most 4 MB in distribution; a page of 1000 tags is far smaller. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * GitLab's registry answers 401 with these codes when tag protection or immutability forbids
 * the change: not an expired token, so no refresh, and the caller reports it as protected.
 */
const PROTECTION_CODES = new Set(["PROTECTED_MANIFEST", "PROTECTED_TAG", "IMMUTABLE_TAG"]);
const GONE_CODES = new Set(["MANIFEST_UNKNOWN", "NAME_UNKNOWN"]);

/** Sends registry requests with the tokens of one TokenProvider. */
export class RegistryTransport {
  readonly #options: RegistryTransportOptions;

  constructor(options: RegistryTransportOptions) {
    this.#options = options;
  }

  /**
   * Sends with retries of transient failures; on a 401 other than a protection refusal, asks for a
   * fresh token once and repeats. Any other answer is returned for the caller to judge.
   */
  call(call: RegistryCall): Promise<RegistryReply> {
    const { tokens, retry } = this.#options;
    const signal = call.finishing ? undefined : this.#options.signal;
    return withRetry(async () => {
      let reply = await this.#exchange(call, await tokens.tokenFor(call.name), signal);
      if (reply.status === 401 && !protectionOf(reply)) {
        reply = await this.#exchange(call, await tokens.tokenFor(call.name, { refresh: true }), signal);
      }
      if (RETRYABLE_STATUSES.has(reply.status)) throw this.failure(call, reply);
      return reply;
    }, { ...retry, ...(signal ? { signal } : {}) });
  }

  /** The RegistryError for an answer the caller does not accept: `<operation>: <status> <code>: …`. */
  failure(call: RegistryCall, reply: RegistryReply): RegistryError {
    const wwwAuthenticate = headerValue(reply.headers, "www-authenticate");
    const retryAfter = headerValue(reply.headers, "retry-after");
    return errorFromReply(call.operation, {
      status: reply.status,
      body: reply.body,
      ...(wwwAuthenticate !== undefined ? { wwwAuthenticate } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    }, about(call));
  }

  async #exchange(call: RegistryCall, token: string, signal: AbortSignal | undefined): Promise<RegistryReply> {
    try {
      const response = await request(call.url, {
        dispatcher: this.#options.dispatcher,
        method: call.method,
        headers: { ...call.headers, authorization: bearerAuthorization(token) },
        ...(call.body ? { body: call.body } : {}),
        ...(signal ? { signal } : {}),
      });
      // Read every body, even of errors: undici reuses a connection only once its body is consumed.
      const body = await readBody(response.body, MAX_BODY_BYTES);
      return { status: response.statusCode, headers: response.headers, body };
    } catch (error) {
      if (signal?.aborted) throw error;
      throw errorFromNetwork(call.operation, error, about(call));
    }
  }
}

/** The protection entry of a 401/403 (GitLab tag protection or immutability), if any. */
export function protectionOf(reply: RegistryReply): { code: string; message: string } | undefined {
  if (reply.status !== 401 && reply.status !== 403) return undefined;
  return parseRegistryErrors(reply.body).find((entry) => PROTECTION_CODES.has(entry.code));
}

/** A 404 the registry itself sent about a manifest or tag (MANIFEST_UNKNOWN, NAME_UNKNOWN). */
export function isGone(reply: RegistryReply): boolean {
  // A 404 without a registry code may come from a misrouted proxy: that is no proof of absence.
  return reply.status === 404 && parseRegistryErrors(reply.body).some((entry) => GONE_CODES.has(entry.code));
}

/** The DeletesDisabledError for a DELETE answered 405: the run must stop. */
export function deletesDisabled(call: RegistryCall, reply: RegistryReply): DeletesDisabledError {
  const first = parseRegistryErrors(reply.body)[0];
  const message = ["405", [first?.code, first?.message].filter(Boolean).join(": ")].join(" ").trim();
  return new DeletesDisabledError({ operation: call.operation, status: 405, message, ...about(call), ...(first ? { code: first.code } : {}) });
}

function about(call: RegistryCall): { repository: RepositoryName; digest?: Digest } {
  return { repository: call.name, ...(call.digest ? { digest: call.digest } : {}) };
}
