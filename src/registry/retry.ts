/**
 * The one place that decides which HTTP failures are transient, and how long to wait before
 * trying again. Every request the tool sends (GET, HEAD, DELETE and PUT by digest, /jwt/auth)
 * is idempotent, so repeating one after a lost connection is safe: a DELETE that did land
 * answers 404 the second time, which the client reports as already gone.
 */

/**
 * Statuses worth another attempt, because the same request can succeed a moment later.
 * 500 is deliberately absent: the registry answers 500 (`UNKNOWN`) when its storage driver fails
 * on a path or a bug is hit, and GitLab's Rails answers 500 on an exception; both repeat for the
 * same request, so retrying only delays the report. Overload shows up as 502/503/504 instead.
 * 401 is absent too: a 401 from /jwt/auth must never be repeated (GitLab bans an address after
 * 30 failed logins in 3 minutes), and the registry client handles a registry 401 itself with
 * exactly one token refresh.
 */
export const RETRYABLE_STATUSES: ReadonlyMap<number, string> = new Map([
  // nginx or a load balancer gave up waiting for the request body or the next request.
  [408, "request timeout"],
  // Rate limited (GitLab's rack-attack, a proxy): wait as long as Retry-After says.
  [429, "too many requests"],
  // nginx/workhorse could not reach the registry or Puma: restarting, reconfigure, overload.
  [502, "bad gateway"],
  // The registry is in read-only maintenance or starting up; GitLab under load.
  [503, "service unavailable"],
  // An upstream took too long, often a DELETE in a repository with very many tags.
  [504, "gateway timeout"],
]);

/**
 * Network error codes worth another attempt. ENOTFOUND and TLS certificate errors are absent:
 * a wrong host name or an untrusted certificate does not fix itself.
 */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET", // the peer (or a proxy) dropped a keep-alive connection
  "ECONNREFUSED", // the registry or GitLab is restarting (gitlab-ctl reconfigure)
  "EPIPE", // wrote to a connection the peer had just closed
  "ETIMEDOUT", // the kernel gave up connecting
  "EAI_AGAIN", // temporary DNS failure
  "UND_ERR_SOCKET", // undici: the socket closed mid-response ("other side closed")
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** How persistent to be. Every field has a default; tests inject sleep, random and now. */
export interface RetryPolicy {
  /** Total attempts including the first. Default 5. */
  attempts?: number;
  /** Backoff before the first retry (before jitter). Default 500 ms. */
  baseDelayMs?: number;
  /** Cap of the exponential backoff (before jitter). Default 10 s. */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the failure is reported instead. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Stops waiting and retrying at once; the signal's reason is thrown. */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Returns a number in [0, 1). Default Math.random. */
  random?: () => number;
  /** The clock used for HTTP-date Retry-After values. Default Date.now. */
  now?: () => number;
  /** Told before each wait, for progress output. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * Decides which failures are transient. Default {@link classifyFailure}, the registry's and
   * GitLab's rules; a client of another kind of server (S3, where 500 InternalError is worth
   * another attempt) passes its own and keeps the attempts, backoff and Retry-After handling.
   */
  classify?: (error: unknown, now: number) => FailureClass;
}

/** One decision to try again. */
export interface RetryEvent {
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  reason: string;
  error: unknown;
}

/** Whether a failure is transient, and how long the server asked us to wait. */
export type FailureClass =
  | { retry: false }
  | { retry: true; reason: string; retryAfterMs?: number };

/**
 * Classifies a thrown failure. HTTP failures are recognised by a numeric `status` (and an
 * optional `retryAfter` header value), as RegistryError carries them; network failures by a
 * `code` anywhere in the `cause` chain or among an AggregateError's errors.
 */
export function classifyFailure(error: unknown, now: number = Date.now()): FailureClass {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number") {
    const reason = RETRYABLE_STATUSES.get(status);
    if (!reason) return { retry: false };
    const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
    const retryAfterMs = typeof retryAfter === "string" ? parseRetryAfter(retryAfter, now) : undefined;
    return { retry: true, reason: `${status} ${reason}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  const code = findNetworkCode(error);
  return code ? { retry: true, reason: code } : { retry: false };
}

/** `Retry-After` as delta-seconds or an HTTP-date, in ms from `now`; undefined if unparsable. */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full jitter: a random wait between 0 and the capped exponential backoff for this retry. */
export function backoffDelay(retry: number, policy: RetryPolicy = {}): number {
  const base = policy.baseDelayMs ?? 500;
  const cap = policy.maxDelayMs ?? 10_000;
  const ceiling = Math.min(cap, base * 2 ** (retry - 1));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/**
 * Runs `fn` until it succeeds, fails permanently, runs out of attempts or is aborted. The last
 * failure is rethrown unchanged, so callers keep their error classes and messages.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attempts = Math.max(1, policy.attempts ?? 5);
  const { signal } = policy;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      // An abort surfaces as whatever the request library threw; report the abort itself.
      signal?.throwIfAborted();
      const next = nextDelay(error, attempt, attempts, policy);
      if (!next) throw error;
      policy.onRetry?.({ attempt, delayMs: next.delayMs, reason: next.reason, error });
      await (policy.sleep ?? sleep)(next.delayMs, signal);
    }
  }
}

function nextDelay(
  error: unknown,
  attempt: number,
  attempts: number,
  policy: RetryPolicy,
): { delayMs: number; reason: string } | undefined {
  if (attempt >= attempts) return undefined;
  const failure = (policy.classify ?? classifyFailure)(error, (policy.now ?? Date.now)());
  if (!failure.retry) return undefined;
  const { reason, retryAfterMs } = failure;
  if (retryAfterMs === undefined) return { delayMs: backoffDelay(attempt, policy), reason };
  // Honour the server's wish or give up; waiting less than asked just earns another 429.
  return retryAfterMs <= (policy.maxRetryAfterMs ?? 60_000) ? { delayMs: retryAfterMs, reason } : undefined;
}

function findNetworkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== "object" || error === null || depth > 5) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && RETRYABLE_NETWORK_CODES.has(code)) return code;
  // Node's happy-eyeballs connect reports every address it tried in an AggregateError.
  for (const inner of error instanceof AggregateError ? error.errors : []) {
    const found = findNetworkCode(inner, depth + 1);
    if (found) return found;
  }
  return findNetworkCode((error as { cause?: unknown }).cause, depth + 1);
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
