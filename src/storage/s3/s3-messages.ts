/**
 * What the S3 driver says when a request fails for good: before the run (checkRoot, a UsageError
 * that says what to fix) and during it (one key spoiled, or the storage gone). Every message
 * names the bucket or s3:// URL and the endpoint, and never a secret.
 */
import { UsageError } from "../../core/errors.js";
import { StorageReadError, StorageUnavailableError } from "../driver.js";
import { RUN_WIDE_CODES, isTlsFailure, networkCode, type S3RequestFailure } from "./s3-errors.js";

/** What the messages name. */
export interface S3MessageContext {
  bucket: string;
  /** `s3://bucket/rootdirectory`. */
  location: string;
  /** Where the credentials came from, in words; undefined when they could not be resolved. */
  source?: string;
  /** Whether an endpoint was configured (else AWS, where `region` picks the host). */
  customEndpoint: boolean;
}

const ENDPOINT_HINT = "Check regionendpoint in the registry config's storage.s3 section (or --s3-endpoint)";
const REGION_HINT = "Check region in the registry config's storage.s3 section (or --s3-region)";

/** The UsageError for a failure of checkRoot's first requests. */
export function rootError(failure: S3RequestFailure, context: S3MessageContext): UsageError {
  const response = failure.response;
  const text = response ? rootAnswerText(failure, context) : rootNetworkText(failure, context);
  return new UsageError(text, { cause: failure });
}

function rootAnswerText(failure: S3RequestFailure, context: S3MessageContext): string {
  const { bucket, source = "the configured source" } = context;
  const at = `bucket "${bucket}" at ${failure.endpoint}`;
  const answer = failure.reason;
  switch (failure.response?.code) {
    case "InvalidAccessKeyId":
      return `S3 does not know the access key used for ${at} (${answer}). Check the access key in ${source}.`;
    case "SignatureDoesNotMatch":
      return `S3 rejected the signature of requests to ${at} (${answer}): the secret key from ${source} does not belong to its access key. Check the secret key there.`;
    case "AccessDenied":
      return (
        `Access denied to ${at} (${answer}). The credentials from ${source} need s3:ListBucket on the bucket ` +
        `and s3:GetObject on ${everyObject(context.location)}: grant them in the bucket or IAM policy.`
      );
    case "NoSuchBucket":
      return `There is no bucket "${bucket}" at ${failure.endpoint} (${answer}). Check bucket in the registry config's storage.s3 section (or --storage s3://…)${context.customEndpoint ? ` and regionendpoint` : ` and region`}.`;
    case "RequestTimeTooSkewed":
      return `S3 refused requests to ${at} because this machine's clock is off (${answer}). Set the clock (e.g. enable NTP) and run again.`;
    case "ExpiredToken":
    case "InvalidToken":
      return `S3 refused the session token from ${source} for ${at} (${answer}). Renew the temporary credentials and run again.`;
    case "PermanentRedirect":
    case "AuthorizationHeaderMalformed":
    case "IllegalLocationConstraintException":
      return `S3 says ${at} is in another region (${answer}). ${context.customEndpoint ? ENDPOINT_HINT : REGION_HINT}.`;
  }
  if (failure.exhausted) return unavailableText(failure, context);
  return `S3 refused to list ${at} (${answer}). Check the bucket, the credentials from ${source}, and the endpoint.`;
}

/** `s3://bucket/root/*`, or `s3://bucket/*` for a storage at the bucket's top. */
export function everyObject(location: string): string {
  return location.endsWith("/") ? `${location}*` : `${location}/*`;
}

function rootNetworkText(failure: S3RequestFailure, context: S3MessageContext): string {
  const code = networkCode(failure.cause);
  const hint = context.customEndpoint ? ENDPOINT_HINT : REGION_HINT;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    return `The S3 endpoint ${failure.endpoint} for bucket "${context.bucket}" does not speak TLS (${code}). Give regionendpoint as http://… or set secure: false in the registry config's storage.s3 section.`;
  }
  if (isTlsFailure(code)) {
    return (
      `Could not connect to the S3 endpoint ${failure.endpoint} for bucket "${context.bucket}": its TLS certificate was not accepted (${failure.reason}). ` +
      "Give the certificate's CA to Node (NODE_EXTRA_CA_CERTS), or set skipverify: true in the registry config's storage.s3 section."
    );
  }
  if (code === "ENOTFOUND") {
    return `Could not reach the S3 endpoint ${failure.endpoint} for bucket "${context.bucket}": its host name does not resolve (ENOTFOUND). ${hint}.`;
  }
  if (failure.exhausted) return `${unavailableText(failure, context)} ${hint} and that the server is running.`;
  return `Could not reach the S3 endpoint ${failure.endpoint} for bucket "${context.bucket}" (${failure.reason}). ${hint}.`;
}

function unavailableText(failure: S3RequestFailure, context: S3MessageContext): string {
  return `Could not list bucket "${context.bucket}": the S3 endpoint ${failure.endpoint} ${outcome(failure)}.`;
}

/** "answered 503 SlowDown to all 5 attempts (Please reduce…)" or "did not answer after 5 attempts (ECONNREFUSED)". */
function outcome(failure: S3RequestFailure): string {
  const { attempts, response } = failure;
  if (!response) return `did not answer after ${attempts === 1 ? "1 attempt" : `${attempts} attempts`} (${failure.reason})`;
  const times = attempts > 1 ? ` to all ${attempts} attempts` : "";
  return `answered ${response.status}${response.code ? ` ${response.code}` : ""}${times}${response.s3Message ? ` (${response.s3Message.replace(/\.$/, "")})` : ""}`;
}

/**
 * The error for a failure during the run. A transient failure that outlasted the retries, a
 * network failure and a run-wide refusal (expired token, bucket gone) end the run: every later
 * read would fail too. A refusal of one key spoils that key only.
 */
export function readError(
  failure: S3RequestFailure,
  context: S3MessageContext,
  permission: "s3:GetObject" | "s3:ListBucket",
): StorageReadError | StorageUnavailableError {
  const response = failure.response;
  const code = response?.code;
  // Neither S3 nor the network: the credentials could not be refreshed, say.
  if (!response && !networkCode(failure.cause)) return unreadable(failure.what, failure.cause);
  if (!response || failure.exhausted || (code && RUN_WIDE_CODES.has(code))) {
    return new StorageUnavailableError(
      `Could not read ${failure.what}: the S3 endpoint ${failure.endpoint} ${outcome(failure)}. ` +
        "The run stops here, since nothing is deleted without reading the bucket first; run again once it can be read.",
      { cause: failure },
    );
  }
  if (response.status === 403) {
    const who = context.source ? `the credentials from ${context.source}` : "the credentials";
    return new StorageReadError(`Could not read ${failure.what}: access denied (${failure.reason}); ${who} need ${permission} on it.`, true, {
      cause: failure,
    });
  }
  return new StorageReadError(`Could not read ${failure.what}: S3 answered ${failure.reason}.`, false, { cause: failure });
}

/** For failures that are not S3's answer nor the network's (a listing that does not parse). */
export function unreadable(what: string, error: unknown): StorageUnavailableError {
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\.$/, "");
  return new StorageUnavailableError(`Could not read ${what}: ${reason}. The run stops here, since nothing is deleted without reading the bucket first.`, { cause: error });
}
