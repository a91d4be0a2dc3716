/**
 * How the S3 driver tells transient failures from lasting ones, and what it then says. S3's
 * rules differ from the registry's (retry.ts): S3 answers 500 InternalError and 503 SlowDown
 * under load and asks clients to repeat, so both are retried here.
 */
import { classifyFailure, type FailureClass } from "../../registry/retry.js";

/** One non-2xx answer, with what the `<Error>` body said. Never carries a secret. */
export class S3ResponseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly s3Message: string | undefined,
    /** The Retry-After header, if any. */
    readonly retryAfter?: string,
  ) {
    super(`${status}${code ? ` ${code}` : ""}${s3Message ? `: ${s3Message}` : ""}`);
    this.name = "S3ResponseError";
  }
}

/** Statuses worth another attempt, each for its reason. */
export const RETRYABLE_S3_STATUSES: ReadonlyMap<number, string> = new Map([
  // S3's own request was not answered in time by the client or a proxy.
  [408, "request timeout"],
  // S3-compatible servers and proxies in front of them rate-limit with 429 (AWS uses 503).
  [429, "too many requests"],
  // InternalError: AWS documents it as transient ("retry the request").
  [500, "internal error"],
  // A load balancer in front of an S3-compatible server lost its backend.
  [502, "bad gateway"],
  // SlowDown or ServiceUnavailable: the request rate is too high for the prefix; back off.
  [503, "slow down"],
  [504, "gateway timeout"],
]);

/** Error codes worth another attempt whatever the status (RequestTimeout comes as a 400). */
export const RETRYABLE_S3_CODES: ReadonlySet<string> = new Set([
  "InternalError",
  "SlowDown",
  "ServiceUnavailable",
  "RequestTimeout",
]);

/**
 * The S3 classification for `withRetry`: S3 answers by status and code as above; network
 * failures (reset, refused, timed out) as retry.ts classifies them for every client.
 */
export function classifyS3Failure(error: unknown, now: number): FailureClass {
  if (!(error instanceof S3ResponseError)) return classifyFailure(error, now);
  const reason = RETRYABLE_S3_STATUSES.get(error.status);
  if (!reason && !(error.code && RETRYABLE_S3_CODES.has(error.code))) return { retry: false };
  const label = `${error.status} ${error.code ?? reason}`;
  // Delegate Retry-After parsing by the registry's rules: a 503 with the header is a 503 there too.
  const retryAfterMs = error.retryAfter !== undefined ? retryAfterOf(error.retryAfter, now) : undefined;
  return { retry: true, reason: label, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

function retryAfterOf(value: string, now: number): number | undefined {
  const parsed = classifyFailure({ status: 503, retryAfter: value }, now);
  return parsed.retry ? parsed.retryAfterMs : undefined;
}

/**
 * A request that failed for good: after `attempts` tries, or at once for a lasting answer.
 * `cause` is the last S3ResponseError or network error, unchanged.
 */
export class S3RequestFailure extends Error {
  constructor(
    /** The s3:// URL of what was asked for (a key or a prefix), for messages. */
    readonly what: string,
    /** The endpoint's origin, e.g. `https://s3.eu-west-1.amazonaws.com` (never a secret). */
    readonly endpoint: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`${what}: ${describeCause(options.cause)}`, options);
    this.name = "S3RequestFailure";
  }

  /** The S3 answer, when there was one. */
  get response(): S3ResponseError | undefined {
    return this.cause instanceof S3ResponseError ? this.cause : undefined;
  }

  /** The failure in a few words: `503 SlowDown: …`, or `ECONNREFUSED`. */
  get reason(): string {
    return describeCause(this.cause);
  }

  /** Whether it was transient and the attempts ran out (as opposed to a lasting answer). */
  get exhausted(): boolean {
    return classifyS3Failure(this.cause, Date.now()).retry;
  }
}

/** A network error's code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET…) anywhere in its causes. */
export function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== "object" || error === null || depth > 5) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && !(error instanceof S3ResponseError)) return code;
  // Node's happy-eyeballs connect reports every address it tried in an AggregateError.
  for (const inner of error instanceof AggregateError ? error.errors : []) {
    const found = networkCode(inner, depth + 1);
    if (found) return found;
  }
  return networkCode((error as { cause?: unknown }).cause, depth + 1);
}

/** The code alone for a network failure: Node's and OpenSSL's messages add only noise. */
function describeCause(cause: unknown): string {
  if (cause instanceof S3ResponseError) return cause.message;
  const code = networkCode(cause);
  if (code) return code;
  return (cause instanceof Error ? cause.message : String(cause)).replace(/\s+/g, " ").trim();
}

/** Codes that mean every later request will fail the same way, not only this key. */
export const RUN_WIDE_CODES: ReadonlySet<string> = new Set([
  "InvalidAccessKeyId",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "RequestTimeTooSkewed",
  "NoSuchBucket",
  "AccountProblem",
]);

/** TLS failures, for the hint about `skipverify` and CA certificates. */
export function isTlsFailure(code: string | undefined): boolean {
  return !!code && (/CERT|SSL|TLS/.test(code) || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
}
