/**
 * The HTTP plumbing shared by the registry client and the token provider: one keep-alive
 * connection pool for the whole run, proxy support from the environment, TLS options, and
 * small helpers that keep secrets out of errors.
 */
import { rootCertificates } from "node:tls";
import { EnvHttpProxyAgent, type Dispatcher } from "undici";
import { UsageError } from "../core/errors.js";

export interface DispatcherOptions {
  /** Skip certificate verification (self-signed registries). */
  insecure?: boolean;
  /** A PEM CA certificate (bundle) trusted in addition to the system's. */
  caCert?: Buffer | string;
  /** Connections per origin. Default 16; the executor bounds concurrency anyway. */
  connections?: number;
  /** Give up on a response whose headers or body stall this long. Default 120 s. */
  timeoutMs?: number;
}

/**
 * Creates the one dispatcher of the run. It honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and
 * their lowercase forms) like curl, and applies the same TLS options with or without a proxy.
 * Close it at the end of the run (`await dispatcher.close()`), or idle sockets keep Node alive
 * for a few seconds.
 */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  const tls = tlsOptions(options);
  const timeout = options.timeoutMs ?? 120_000;
  return new EnvHttpProxyAgent({
    connections: options.connections ?? 16,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    // Used for direct connections (no proxy, or a host in NO_PROXY).
    connect: tls,
    // Used for the TLS session tunnelled through a proxy: ProxyAgent ignores `connect` for it.
    requestTls: tls,
  });
}

function tlsOptions(options: DispatcherOptions): { rejectUnauthorized?: boolean; ca?: string[] } {
  const tls: { rejectUnauthorized?: boolean; ca?: string[] } = {};
  if (options.insecure) tls.rejectUnauthorized = false;
  // Node's `ca` replaces the built-in roots instead of adding to them: keep them alongside.
  if (options.caCert !== undefined) tls.ca = [...rootCertificates, options.caCert.toString()];
  return tls;
}

/**
 * The `Authorization` value for HTTP Basic (RFC 7617, UTF-8). Throws UsageError when the
 * username contains a colon, which Basic cannot carry; the secret is never part of the message.
 */
export function basicAuthorization(username: string, secret: string): string {
  if (username.includes(":")) {
    throw new UsageError(`The username "${username}" contains ":", which no GitLab username can; check it.`);
  }
  return `Basic ${Buffer.from(`${username}:${secret}`, "utf8").toString("base64")}`;
}

/** The `Authorization` value for a registry bearer token. */
export function bearerAuthorization(token: string): string {
  return `Bearer ${token}`;
}

/** A response body as undici returns it. */
export type ResponseBody = Dispatcher.ResponseData["body"];

/**
 * Reads a whole response body, at most `maxBytes`. Reading (or dumping) every body is what lets
 * undici put the connection back in the pool; a body that is too big is destroyed instead.
 */
export async function readBody(body: ResponseBody, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new Error(`the response is larger than ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** One header as a single string (undici gives arrays for repeated headers). */
export function headerValue(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The target of the `rel="next"` link in a `Link` header (RFC 8288), if there is one. */
export function nextLinkTarget(header: string | undefined): string | undefined {
  for (const [, target, params] of (header ?? "").matchAll(/<([^>]*)>([^,]*)/g)) {
    if (/;\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(params!)) return target;
  }
  return undefined;
}

/** A URL to show in messages: never its user-info, query or fragment. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
