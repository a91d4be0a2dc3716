/**
 * The test helpers' own S3 client: path-style SigV4 requests (writes included, which the product's
 * read-only driver never makes) to the test S3 server, signed like the product signs them.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { Agent, request } from "undici";
import { NodeSha256, s3Encode } from "../../src/storage/s3/s3-sign.js";

export interface S3Response {
  status: number;
  body: Buffer;
}

/** Path-style SigV4 requests over undici, through an agent of its own that `close()` shuts. */
export class S3Client {
  readonly #signer: SignatureV4;
  #agent: Agent | undefined;

  constructor(readonly endpoint: string, readonly region: string, accessKeyId: string, secretAccessKey: string) {
    this.#signer = new SignatureV4({
      service: "s3", region, credentials: { accessKeyId, secretAccessKey }, sha256: NodeSha256, uriEscapePath: false,
    });
  }

  /** A fresh agent: after a gateway restart, pooled connections to the old process are dead. */
  open(): void {
    this.#agent ??= new Agent({ keepAliveTimeout: 1_000 });
  }

  async close(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.destroy();
  }

  async send(method: string, path: string, query: Record<string, string>, body?: Buffer, timeoutMs = 30_000): Promise<S3Response> {
    const url = new URL(this.endpoint);
    const signed = await this.#signer.sign({
      method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path, query,
      headers: { host: url.host }, ...(body ? { body } : {}),
    });
    const search = Object.entries(query).map(([key, value]) => `${s3Encode(key)}=${s3Encode(value)}`).join("&");
    const response = await request(`${this.endpoint}${path}${search ? `?${search}` : ""}`, {
      method: method as "GET", headers: signed.headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      ...(this.#agent ? { dispatcher: this.#agent } : {}),
    });
    return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
  }

  /** A request that must succeed (2xx, or `allowed`); the error names the request and S3's answer. */
  async call(method: string, bucket: string, key?: string, options: { query?: Record<string, string>; body?: Buffer; allowed?: number[] } = {}): Promise<S3Response> {
    const path = `/${s3Encode(bucket)}${key === undefined ? "" : `/${key.split("/").map(s3Encode).join("/")}`}`;
    const response = await this.send(method, path, options.query ?? {}, options.body);
    if ((response.status >= 200 && response.status < 300) || options.allowed?.includes(response.status)) return response;
    throw new Error(`S3 ${method} ${path} at ${this.endpoint} answered ${response.status}: ${response.body.toString("utf8").slice(0, 500)}`);
  }

  async createBucket(bucket: string): Promise<void> {
    const response = await this.call("PUT", bucket, undefined, { allowed: [409] });
    if (response.status === 409 && !response.body.includes("BucketAlreadyOwnedByYou")) {
      throw new Error(`S3 PUT /${bucket} answered 409: ${response.body.toString("utf8").slice(0, 500)}`);
    }
  }

  async getObject(bucket: string, key: string): Promise<Buffer | undefined> {
    const response = await this.call("GET", bucket, key, { allowed: [404] });
    if (response.status !== 404) return response.body;
    if (response.body.includes("<Code>NoSuchKey</Code>")) return undefined;
    throw new Error(`S3 GET /${bucket}/${key} at ${this.endpoint} answered 404: ${response.body.toString("utf8").slice(0, 500)}`);
  }

  async listKeys(bucket: string, prefix: string): Promise<Array<{ key: string; size: number; lastModified: Date }>> {
    const keys: Array<{ key: string; size: number; lastModified: Date }> = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", "max-keys": "1000", prefix, ...(token ? { "continuation-token": token } : {}) };
      const xml = (await this.call("GET", bucket, undefined, { query })).body.toString("utf8");
      for (const [, contents = ""] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        keys.push({ key: xmlText(contents, "Key") ?? "", size: Number(xmlText(contents, "Size")), lastModified: new Date(xmlText(contents, "LastModified") ?? NaN) });
      }
      token = xmlText(xml, "IsTruncated") === "true" ? xmlText(xml, "NextContinuationToken") : undefined;
    } while (token);
    return keys;
  }
}

/** The decoded text of the first `<tag>` in `xml`. */
function xmlText(xml: string, tag: string): string | undefined {
  const raw = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return raw?.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (entity, name: string) =>
    name.startsWith("#x") ? String.fromCodePoint(Number.parseInt(name.slice(2), 16))
      : name.startsWith("#") ? String.fromCodePoint(Number(name.slice(1))) : (entities[name] ?? entity));
}
