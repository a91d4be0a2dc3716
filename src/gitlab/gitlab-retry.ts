/**
 * Which failures of a GET to GitLab (/jwt/auth, the REST API) are worth another attempt: the
 * registry's rules (src/registry/retry.ts) plus 500. Kept apart from them on purpose: the
 * registry's 500 on a DELETE says its storage failed, and the registry client checks the disk
 * instead of repeating; GitLab's 500 on a GET is what Puma answers while it restarts (an upgrade,
 * `gitlab-ctl reconfigure`), gone a few seconds later, and a GET is safe to repeat. 401 stays
 * never repeated: GitLab blocks an address after repeated failed logins.
 */
import { classifyFailure, parseRetryAfter, type FailureClass } from "../registry/retry.js";

/** A RetryPolicy `classify` for GitLab's GETs; reads RegistryError's `status` and gitbeaker's `cause.response`. */
export function classifyGitLabFailure(error: unknown, now: number = Date.now()): FailureClass {
  const own = (error as { status?: unknown } | null)?.status;
  const response = (error as { cause?: { response?: { status?: unknown; headers?: { get?: unknown } } } } | null)?.cause?.response;
  const status = typeof own === "number" ? own : typeof response?.status === "number" ? response.status : undefined;
  if (status === 500) return { retry: true, reason: "500 internal server error (GitLab restarting?)" };
  if (typeof own === "number" || status === undefined) return classifyFailure(error, now);
  // gitbeaker's error: it already repeated 429 and 502 itself, and those reach us without a status.
  const header = typeof response?.headers?.get === "function" ? (response.headers.get as (name: string) => unknown)("retry-after") : undefined;
  const retryAfterMs = typeof header === "string" ? parseRetryAfter(header, now) : undefined;
  const failure = classifyFailure({ status }, now);
  return failure.retry && retryAfterMs !== undefined ? { ...failure, retryAfterMs } : failure;
}
