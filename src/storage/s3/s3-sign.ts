/**
 * AWS Signature Version 4 for the S3 driver's requests, with @smithy/signature-v4 (the signer
 * the AWS SDK itself uses, without the SDK's client stack). One signer serves the whole run: it
 * caches the derived signing key per day, region and credentials, so a request costs two HMACs
 * and one SHA-256 of a few hundred bytes, which matters at one GET per manifest.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { S3Credentials } from "./s3-credentials.js";

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * SHA-256 (or HMAC-SHA-256 with a secret) in the shape the signer wants. A few lines over
 * node:crypto rather than @smithy/hash-node, which is not installed and would only wrap the same.
 */
export class NodeSha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBytes(secret));
  }

  update(data: SourceData): void {
    this.#hash.update(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function toBytes(data: SourceData): string | Uint8Array {
  if (typeof data === "string") return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** What is signed: the request as it goes on the wire, path already URI-encoded. */
export interface SignableRequest {
  method: string;
  protocol: "http:" | "https:";
  /** Host name without the port. */
  hostname: string;
  port?: number;
  /** The encoded path, exactly as sent (S3 does not normalise it, so neither does the signer). */
  path: string;
  /** Decoded query parameters; the signer encodes them canonically. */
  query: Record<string, string>;
  /** Must include `host`, as sent. */
  headers: Record<string, string>;
}

/** Signs S3 requests for one region with whatever credentials the provider currently gives. */
export class S3Signer {
  readonly #signer: SignatureV4;

  constructor(region: string, credentials: () => Promise<S3Credentials>) {
    this.#signer = new SignatureV4({
      service: "s3",
      region,
      credentials,
      sha256: NodeSha256,
      // S3 signs the path as sent, without the double encoding other services use.
      uriEscapePath: false,
      // Adds x-amz-content-sha256, which S3 requires on every request (empty body here).
      applyChecksum: true,
    });
  }

  /** The headers to send: the given ones plus x-amz-date, x-amz-content-sha256, authorization. */
  async sign(request: SignableRequest): Promise<Record<string, string>> {
    const signed = await this.#signer.sign(request);
    return signed.headers;
  }
}

/**
 * URI-encodes a string the way SigV4 and S3 expect: RFC 3986 unreserved characters stay, all
 * else is percent-encoded, including `!'()*` which encodeURIComponent leaves alone.
 */
export function s3Encode(text: string): string {
  const encoded = encodeURIComponent(text);
  return /[!'()*]/.test(encoded) ? encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}

const PLAIN_PATH = /^[A-Za-z0-9._~/-]*$/;

/** A key as a URL path: each `/`-separated segment encoded, the separators kept. */
export function encodeKeyPath(key: string): string {
  // Registry keys are almost always plain already; skip the split for them.
  return PLAIN_PATH.test(key) ? key : key.split("/").map(s3Encode).join("/");
}
