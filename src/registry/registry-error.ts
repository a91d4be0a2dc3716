/**
 * Errors from the registry's `/v2` API (and from GitLab's `/jwt/auth`, which answers in the same
 * JSON shape), and the parsers for what those servers say when they refuse something.
 */
import { STATUS_CODES } from "node:http";
import { type Digest, shortDigest } from "../core/digest.js";
import { CleanupError, ExitCode, UsageError } from "../core/errors.js";
import type { RepositoryName } from "../core/repository-name.js";

/** One entry of a registry error body `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** The parameters of a `WWW-Authenticate: Bearer …` challenge. */
export interface AuthChallenge {
  scheme: string;
  realm?: string;
  service?: string;
  scope?: string;
  /** `insufficient_scope` (token lacks the action) or `invalid_token` (expired, bad signature). */
  error?: string;
  errorDescription?: string;
}

/** What a failed HTTP exchange said, as far as an error message needs it. */
export interface FailedReply {
  status: number;
  /** Raw response body (already read: undici needs bodies consumed to reuse connections). */
  body?: Buffer | string;
  /** The `WWW-Authenticate` header, for 401s. */
  wwwAuthenticate?: string;
  /** The `Retry-After` header, honoured by registry/retry.ts. */
  retryAfter?: string;
}

export interface RegistryErrorInit {
  /** What was being done, e.g. `deleting group/app@sha256:ab12…`. Never contains a secret. */
  operation: string;
  status?: number;
  code?: string;
  message: string;
  repository?: RepositoryName;
  digest?: Digest;
  retryAfter?: string;
  /** Every entry of the reply's `{"errors":[…]}`, e.g. the blobs a MANIFEST_BLOB_UNKNOWN names. */
  entries?: RegistryErrorEntry[];
  cause?: unknown;
}

/**
 * A registry (or token endpoint) request failed. The message reads
 * `deleting group/app@sha256:ab12…: 401 UNAUTHORIZED: authentication required`. Exit code 1.
 */
export class RegistryError extends CleanupError {
  /** HTTP status; undefined for network failures. */
  readonly status: number | undefined;
  /** The registry error code (`MANIFEST_UNKNOWN`, `DENIED`…), when the body carried one. */
  readonly code: string | undefined;
  readonly repository: RepositoryName | undefined;
  readonly digest: Digest | undefined;
  /** `Retry-After` of the failed reply; read by registry/retry.ts through `retryAfter`. */
  readonly retryAfter: string | undefined;
  /** The registry's error entries (code, message, detail); empty for network failures. */
  readonly entries: readonly RegistryErrorEntry[];

  constructor(init: RegistryErrorInit) {
    const options = init.cause !== undefined ? { cause: init.cause } : undefined;
    super(`${init.operation}: ${init.message}`, ExitCode.deletionsFailed, options);
    this.status = init.status;
    this.code = init.code;
    this.repository = init.repository;
    this.digest = init.digest;
    this.retryAfter = init.retryAfter;
    this.entries = init.entries ?? [];
  }
}

/**
 * The registry answered 405 UNSUPPORTED to a DELETE: deletes are disabled in its configuration.
 * Every other delete would fail the same way, so the run must stop at once. Exit code 1.
 */
export class DeletesDisabledError extends RegistryError {
  constructor(init: Omit<RegistryErrorInit, "message"> & { message?: string }) {
    const said = init.message ? ` (${init.message})` : "";
    // UNSUPPORTED is the registry's answer when storage.delete.enabled is false. A bare 405 with
    // no registry code comes from its router: in read-only mode no write route exists, DELETE included.
    const message = init.code === "UNSUPPORTED"
      ? `deletes are disabled in the registry${said}: set \`storage.delete.enabled: true\` in its ` +
        "configuration (omnibus: registry['storage_delete_enabled'] = true in /etc/gitlab/gitlab.rb, " +
        "then gitlab-ctl reconfigure) and run the cleanup again"
      : `the registry refuses DELETE${said}: it is probably in read-only mode ` +
        "(storage.maintenance.readonly.enabled), which refuses deletes as well as pushes; " +
        "take it out of read-only mode and run the cleanup again";
    super({ ...init, message });
  }
}

/** `operation` text for one manifest: `deleting group/app@sha256:ab12…`. */
export function describeManifest(verb: string, name: RepositoryName, digest: Digest): string {
  return `${verb} ${name}@${shortDigest(digest)}…`;
}

/** Parses `{"errors":[…]}`; anything else (HTML from a proxy, empty body) yields `[]`. */
export function parseRegistryErrors(body: Buffer | string | undefined): RegistryErrorEntry[] {
  if (body === undefined || body.length === 0) return [];
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch {
    return [];
  }
  const errors = typeof json === "object" && json !== null ? (json as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((entry): RegistryErrorEntry[] => {
    if (typeof entry !== "object" || entry === null || typeof entry.code !== "string") return [];
    const message = typeof entry.message === "string" ? entry.message : "";
    return [{ code: entry.code, message, ...(entry.detail !== undefined ? { detail: entry.detail } : {}) }];
  });
}

/** Parses a `WWW-Authenticate` challenge such as `Bearer realm="…",error="insufficient_scope"`. */
export function parseWwwAuthenticate(header: string | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const challenge: AuthChallenge = { scheme: match[1]! };
  // Values are quoted strings (with \" escapes) or bare tokens.
  const param = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const [, key, quoted, bare] of match[2]!.matchAll(param)) {
    const value = quoted !== undefined ? quoted.replace(/\\(.)/g, "$1") : bare!;
    switch (key!.toLowerCase()) {
      case "realm": challenge.realm = value; break;
      case "service": challenge.service = value; break;
      case "scope": challenge.scope = value; break;
      case "error": challenge.error = value; break;
      case "error_description": challenge.errorDescription = value; break;
    }
  }
  return challenge;
}

/** Builds the RegistryError for a reply the caller does not accept. */
export function errorFromReply(
  operation: string,
  reply: FailedReply,
  about: { repository?: RepositoryName; digest?: Digest } = {},
): RegistryError {
  const entries = parseRegistryErrors(reply.body);
  const entry = entries[0];
  const code = entry?.code;
  const said = entry ? [entry.code, entry.message].filter(Boolean).join(": ") : STATUS_CODES[reply.status] ?? "";
  const hint = hintFor(reply);
  return new RegistryError({
    operation,
    status: reply.status,
    message: [`${reply.status} ${said}`.trim(), hint].filter(Boolean).join(" "),
    ...(code !== undefined ? { code } : {}),
    ...(entries.length > 0 ? { entries } : {}),
    ...(reply.retryAfter !== undefined ? { retryAfter: reply.retryAfter } : {}),
    ...about,
  });
}

/** Wraps a network failure (connection refused, reset, timeout) with what was being done. */
export function errorFromNetwork(
  operation: string,
  cause: unknown,
  about: { repository?: RepositoryName; digest?: Digest } = {},
): RegistryError | TlsTrustError {
  const code = networkCode(cause);
  const text = cause instanceof Error ? cause.message : String(cause);
  if (code !== undefined && TLS_TRUST_CODES.has(code)) return new TlsTrustError(`${operation}: ${text} (${code})`, cause);
  return new RegistryError({ operation, message: code ? `${text} (${code})` : text, cause, ...about });
}

/** Node's codes for a certificate the client does not trust: fixed by a flag, not by retrying. */
const TLS_TRUST_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * The server's certificate is not trusted. It happens on the first contact, before anything is
 * deleted, and the fix is a flag: a usage error (exit 2).
 */
export class TlsTrustError extends UsageError {
  constructor(message: string, cause: unknown) {
    super(
      `${message}: the server's certificate is not trusted. Pass the CA that signed it with --ca-cert <file.pem> ` +
        "(a bundle may hold the CAs of both GitLab and the registry), or -k/--insecure to skip verification.",
      { cause },
    );
  }
}

function hintFor(reply: FailedReply): string | undefined {
  if (reply.status !== 401) return undefined;
  const challenge = parseWwwAuthenticate(reply.wwwAuthenticate);
  if (challenge?.error === "insufficient_scope") {
    return "(insufficient_scope: the token does not grant this action here; deleting needs the " +
      "Maintainer role or higher in the project, and a personal access token needs the `api` scope)";
  }
  if (challenge?.error === "invalid_token") {
    return "(invalid_token: the registry rejected GitLab's token even after a fresh one was fetched; " +
      "check that the registry trusts GitLab's token signing certificate and that both clocks agree)";
  }
  return undefined;
}

function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
