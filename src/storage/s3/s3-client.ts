/**
 * Signed GET and HEAD requests to one bucket over undici: addressing, bounded concurrency and
 * retries. Knows nothing of the registry's layout; s3-driver.ts turns answers into a StorageDriver.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Agent, type Dispatcher } from "undici";
import { withRetry, type RetryPolicy } from "../../registry/retry.js";
import { Limiter } from "./limiter.js";
import { S3RequestFailure, S3ResponseError, classifyS3Failure } from "./s3-errors.js";
import { S3Signer, encodeKeyPath, s3Encode } from "./s3-sign.js";
import type { S3CredentialProvider } from "./s3-credentials.js";
import { parseErrorBody } from "./s3-xml.js";
import type { S3Settings } from "./settings.js";

/** How the client behaves; everything has a default. */
export interface S3ClientOptions {
  /** Requests in flight at most. Default 16: above that, signing on two cores is the limit. */
  concurrency?: number;
  /** Attempts and backoff; tests shorten the delays. `classify` is always S3's. */
  retry?: Omit<RetryPolicy, "classify" | "signal">;
  /** Instead of the client's own keep-alive Agent (which close() then leaves open). */
  dispatcher?: Dispatcher;
  /** Waiting for response headers, and between body chunks. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One request: the key (full, within the bucket) or the bucket itself with a query. */
export interface S3Call {
  method: "GET" | "HEAD";
  /** The full key in the bucket; absent for a bucket request (a listing). */
  key?: string;
  query?: Record<string, string>;
  /** The s3:// URL of what is asked for, for messages. */
  what: string;
  /** Refuse to read a body larger than this (by Content-Length). */
  maxBytes?: number;
}

/** An answer: 2xx, or 404 for a missing key (every other status is thrown). */
export interface S3Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Absent for HEAD, 404, and a body over `maxBytes`. */
  body?: Buffer;
  /** Content-Length, when the server sent one. */
  size?: number;
}

/** Where requests go: an origin plus the path prefix that names the bucket (path style). */
export interface S3Address {
  origin: string;
  protocol: "http:" | "https:";
  hostname: string;
  port?: number;
  /** The `host` header, with the port when it is not the default. */
  host: string;
  /** `/<bucket>` for path-style addressing; "" when the bucket is in the host name. */
  bucketPath: string;
}

/**
 * With `endpoint`, path style `<endpoint>/<bucket>/<key>` as distribution 2.8 does; without,
 * AWS virtual-hosted style, or path style when the bucket name has a dot (a dotted name breaks
 * the wildcard certificate of `*.s3.<region>.amazonaws.com`, which is why aws-sdk-go does this too).
 */
export function s3Address(settings: S3Settings): S3Address {
  const scheme = settings.secure ? "https" : "http";
  const aws = `s3.${settings.region}.amazonaws.com${settings.region.startsWith("cn-") ? ".cn" : ""}`;
  const dotted = settings.bucket.includes(".");
  const base = settings.endpoint
    ? new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(settings.endpoint) ? settings.endpoint : `${scheme}://${settings.endpoint}`)
    : new URL(`${scheme}://${dotted ? aws : `${settings.bucket}.${aws}`}`);
  const pathStyle = !!settings.endpoint || dotted;
  const prefix = base.pathname.replace(/\/+$/, "");
  return {
    origin: base.origin,
    protocol: base.protocol === "http:" ? "http:" : "https:",
    hostname: base.hostname.replace(/^\[(.*)\]$/, "$1"),
    ...(base.port ? { port: Number(base.port) } : {}),
    host: base.host,
    bucketPath: pathStyle ? `${prefix}/${encodeKeyPath(settings.bucket)}` : prefix,
  };
}

/** Signed requests to one bucket, at most `concurrency` in flight, each retried as S3 asks. */
export class S3Client {
  readonly address: S3Address;
  readonly #signer: S3Signer;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #limiter: Limiter;
  readonly #options: S3ClientOptions;

  constructor(settings: S3Settings, credentials: S3CredentialProvider, options: S3ClientOptions = {}) {
    const concurrency = Math.max(1, options.concurrency ?? 16);
    this.address = s3Address(settings);
    this.#signer = new S3Signer(settings.region, () => credentials.get());
    this.#limiter = new Limiter(concurrency);
    this.#options = options;
    this.#ownsDispatcher = !options.dispatcher;
    this.#dispatcher = options.dispatcher ?? createAgent(settings, concurrency, options.timeoutMs ?? 60_000);
  }

  /** The request, retried; 2xx and 404 answer, everything else throws an S3RequestFailure. */
  async send(call: S3Call): Promise<S3Answer> {
    let attempts = 0;
    try {
      return await withRetry(
        () => this.#limiter.run(() => (attempts++, this.#attempt(call))),
        { ...this.#options.retry, classify: classifyS3Failure, ...(this.#options.signal ? { signal: this.#options.signal } : {}) },
      );
    } catch (error) {
      // An abort (Ctrl-C) is not a storage failure: let it through as it is.
      if (this.#options.signal?.aborted) throw error;
      throw new S3RequestFailure(call.what, this.address.origin, attempts, { cause: error });
    }
  }

  /** Closes the client's own connections (not an injected dispatcher's). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #attempt(call: S3Call): Promise<S3Answer> {
    const path = call.key === undefined ? this.address.bucketPath || "/" : `${this.address.bucketPath}/${encodeKeyPath(call.key)}`;
    const query = call.query ?? {};
    const { protocol, hostname, port, host, origin } = this.address;
    const headers = await this.#signer.sign({ method: call.method, protocol, hostname, ...(port ? { port } : {}), path, query, headers: { host } });
    const search = Object.entries(query).map(([name, value]) => `${s3Encode(name)}=${s3Encode(value)}`).join("&");
    const { signal } = this.#options;
    const response = await this.#dispatcher.request({
      origin, method: call.method, path: search ? `${path}?${search}` : path, headers, ...(signal ? { signal } : {}),
    });
    return readAnswer(call, response);
  }
}

async function readAnswer(call: S3Call, response: Dispatcher.ResponseData): Promise<S3Answer> {
  const { statusCode: status, headers, body } = response;
  const length = headers["content-length"];
  const size = typeof length === "string" ? Number(length) : undefined;
  if (status >= 300) {
    const parsed = parseErrorBody(call.method === "HEAD" ? "" : await body.text());
    if (call.method === "HEAD") await body.dump();
    // A missing key is an answer; a missing bucket is not (every other key is missing too).
    if (status === 404 && parsed.code !== "NoSuchBucket") return { status, headers };
    const retryAfter = headers["retry-after"];
    // A HEAD answer has no body, hence no code: messages then give the status alone.
    throw new S3ResponseError(status, parsed.code, parsed.message, typeof retryAfter === "string" ? retryAfter : undefined);
  }
  if (call.method === "HEAD" || (call.maxBytes !== undefined && size !== undefined && size > call.maxBytes)) {
    await body.dump();
    return { status, headers, ...(size !== undefined ? { size } : {}) };
  }
  const bytes = Buffer.from(await body.arrayBuffer());
  return { status, headers, body: bytes, size: size ?? bytes.length };
}

/** One keep-alive Agent with a connection per request slot. */
function createAgent(settings: S3Settings, concurrency: number, timeoutMs: number): Agent {
  return new Agent({
    connections: concurrency,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
    ...(settings.skipVerify ? { connect: { rejectUnauthorized: false } } : {}),
  });
}
