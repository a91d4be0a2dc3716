/**
 * The StorageDriver over an S3 bucket (AWS or a compatible server), as distribution's `s3`
 * driver lays the registry's keys out: the same keys as on disk, below `rootdirectory`.
 * Listing is cheap (a thousand keys a request) and GETs are the cost, so listings are used
 * wherever they can stand in for reads.
 */
import { UsageError } from "../../core/errors.js";
import type { Listing, StorageDriver, StoredContent, StoredObject } from "../driver.js";
import { S3Client, type S3Answer, type S3Call, type S3ClientOptions } from "./s3-client.js";
import { createCredentialProvider, type S3CredentialProvider } from "./s3-credentials.js";
import { S3RequestFailure } from "./s3-errors.js";
import { everyObject, readError, rootError, unreadable, type S3MessageContext } from "./s3-messages.js";
import { parseListPage, type ListPage } from "./s3-xml.js";
import type { S3Settings } from "./settings.js";

/** How the driver is built; everything has a default. */
export interface S3DriverOptions extends S3ClientOptions {
  /** Instead of the config's keys and the AWS chain (tests inject one). */
  credentials?: S3CredentialProvider;
  /** Where the AWS chain reads its variables. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

const REPOSITORIES = "docker/registry/v2/repositories/";
const PAGE_SIZE = 1000;

/** Read-only access to a registry's storage in an S3 bucket. */
export class S3Driver implements StorageDriver {
  readonly location: string;
  readonly #settings: S3Settings;
  readonly #client: S3Client;
  readonly #credentials: S3CredentialProvider;
  readonly #context: S3MessageContext;

  constructor(settings: S3Settings, options: S3DriverOptions = {}) {
    this.#settings = settings;
    this.#credentials = options.credentials ?? createCredentialProvider(settings, options.env);
    this.#client = new S3Client(settings, this.#credentials, options);
    this.location = `s3://${settings.bucket}/${settings.rootDirectory.replace(/\/$/, "")}`;
    this.#context = { bucket: settings.bucket, location: this.location, customEndpoint: !!settings.endpoint };
  }

  /** The endpoint's origin requests go to, e.g. `https://my-bucket.s3.eu-west-1.amazonaws.com`. */
  get endpoint(): string {
    return this.#client.address.origin;
  }

  describe(key: string): string {
    return `s3://${this.#settings.bucket}/${this.#settings.rootDirectory}${key}`;
  }

  /** Where the credentials came from, in words for the summary: never the secret. */
  async credentialSource(): Promise<string> {
    return (this.#context.source ??= await this.#credentials.source());
  }

  /**
   * Proves, in this order, that there are credentials, that they may list the bucket, that the
   * bucket holds registry keys below the root, and that they may read one (s3:GetObject).
   */
  async checkRoot(): Promise<void> {
    await this.credentialSource();
    const prefix = this.#settings.rootDirectory + REPOSITORIES;
    const first = await this.#rootCall(this.#listCall(prefix, { maxKeys: 1 }));
    const key = this.#rootPage(first).objects[0]?.key;
    if (key === undefined) throw await this.#notARoot(prefix);
    try {
      await this.#client.send({ method: "HEAD", key, what: `s3://${this.#settings.bucket}/${key}` });
    } catch (error) {
      if (error instanceof S3RequestFailure && error.response?.status === 403) {
        const source = this.#context.source;
        throw new UsageError(
          `The credentials from ${source} may list bucket "${this.#settings.bucket}" at ${this.endpoint} but not read its objects ` +
            `(${error.reason} for s3://${this.#settings.bucket}/${key}). Grant s3:GetObject on ${everyObject(this.location)} in the bucket or IAM policy.`,
          { cause: error },
        );
      }
      throw error instanceof S3RequestFailure ? rootError(error, this.#context) : error;
    }
  }

  async list(prefix: string): Promise<Listing> {
    const full = this.#settings.rootDirectory + asPrefix(prefix);
    const prefixes: string[] = [];
    const objects: StoredObject[] = [];
    for await (const page of this.#pages(full, true)) {
      for (const sub of page.prefixes) {
        const name = sub.slice(full.length, -1);
        if (name) prefixes.push(name);
      }
      // A zero-byte "folder" object some tools write for the prefix itself is not an entry.
      for (const object of page.objects) if (object.key !== full) objects.push(this.#stored(object));
    }
    prefixes.sort(compare);
    objects.sort((a, b) => compare(a.key, b.key));
    return { prefixes, objects, others: [] };
  }

  /** `shape` is not needed here: a listing of the prefix is what S3 does cheaply either way. */
  async *listObjects(prefix: string, _shape?: readonly string[]): AsyncIterable<StoredObject> {
    const full = this.#settings.rootDirectory + asPrefix(prefix);
    for await (const page of this.#pages(full, false)) for (const object of page.objects) yield this.#stored(object);
  }

  async get(key: string, maxBytes?: number): Promise<StoredContent | { tooLarge: number } | undefined> {
    const answer = await this.#read({ method: "GET", key: this.#settings.rootDirectory + key, what: this.describe(key), ...(maxBytes !== undefined ? { maxBytes } : {}) });
    if (answer.status === 404) return undefined;
    const bytes = answer.body;
    // Without a Content-Length (never from S3 itself) the size is only known after reading.
    if (!bytes || (maxBytes !== undefined && bytes.length > maxBytes)) return { tooLarge: answer.size ?? bytes?.length ?? 0 };
    const modifiedMs = lastModified(answer);
    return { bytes, ...(modifiedMs !== undefined ? { modifiedMs } : {}) };
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const answer = await this.#read({ method: "HEAD", key: this.#settings.rootDirectory + key, what: this.describe(key) });
    if (answer.status === 404) return undefined;
    return { key, size: answer.size ?? 0, modifiedMs: lastModified(answer) ?? 0 };
  }

  /** Closes the driver's connections; the driver must not be used afterwards. */
  close(): Promise<void> {
    return this.#client.close();
  }

  /**
   * Every page of a listing below the full `prefix`, following continuation tokens. The next
   * page is asked for before this one is handed out, so that a long listing (a blob store of
   * millions of keys) does not wait for the network and for the caller in turn.
   */
  async *#pages(prefix: string, delimited: boolean): AsyncGenerator<ListPage> {
    let pending: Promise<ListPage> | undefined = this.#page(prefix, delimited, undefined);
    while (pending) {
      const page: ListPage = await pending;
      pending = page.truncated ? this.#page(prefix, delimited, page.nextToken) : undefined;
      // Its failure surfaces when it is awaited; a caller that stops early never sees it.
      pending?.catch(() => {});
      yield page;
    }
  }

  async #page(prefix: string, delimited: boolean, token: string | undefined): Promise<ListPage> {
    const call = this.#listCall(prefix, { delimited, ...(token !== undefined ? { token } : {}) });
    const answer = await this.#read(call, "s3:ListBucket");
    let page: ListPage;
    try {
      page = parseListPage(answer.body?.toString("utf8") ?? "");
    } catch (error) {
      throw unreadable(call.what, error);
    }
    // Ending there would pass off part of a listing as all of it (a tag unseen, a manifest "untagged").
    if (page.truncated && page.nextToken === undefined) throw unreadable(call.what, new Error("S3 said the listing goes on but gave no continuation token"));
    return page;
  }

  #listCall(prefix: string, page: { delimited?: boolean; token?: string; maxKeys?: number }): S3Call {
    const query: Record<string, string> = {
      "list-type": "2",
      "max-keys": String(page.maxKeys ?? PAGE_SIZE),
      // URL-encoded keys survive characters XML 1.0 cannot carry.
      "encoding-type": "url",
      ...(prefix ? { prefix } : {}),
      ...(page.delimited ? { delimiter: "/" } : {}),
      ...(page.token !== undefined ? { "continuation-token": page.token } : {}),
    };
    return { method: "GET", query, what: `s3://${this.#settings.bucket}/${prefix}` };
  }

  /** A request during the run: failures become StorageReadError or StorageUnavailableError. */
  async #read(call: S3Call, permission: "s3:GetObject" | "s3:ListBucket" = "s3:GetObject"): Promise<S3Answer> {
    try {
      return await this.#client.send(call);
    } catch (error) {
      throw error instanceof S3RequestFailure ? readError(error, this.#context, permission) : error;
    }
  }

  /** A request of checkRoot: failures become a UsageError that says what to fix. */
  async #rootCall(call: S3Call): Promise<S3Answer> {
    try {
      return await this.#client.send(call);
    } catch (error) {
      throw error instanceof S3RequestFailure ? rootError(error, this.#context) : error;
    }
  }

  /** A listing page of checkRoot; anything else means the endpoint is no S3 server. */
  #rootPage(answer: S3Answer): ListPage {
    try {
      return parseListPage(answer.body?.toString("utf8") ?? "");
    } catch (error) {
      throw new UsageError(
        `${this.endpoint} did not answer a listing of bucket "${this.#settings.bucket}" like an S3 server (${(error as Error).message}). ` +
          "Check regionendpoint in the registry config's storage.s3 section (or --s3-endpoint).",
        { cause: error },
      );
    }
  }

  /** Names what the bucket's top (or the root) holds instead, to help find the right rootdirectory. */
  async #notARoot(prefix: string): Promise<UsageError> {
    const top = this.#settings.rootDirectory;
    const answer = await this.#rootCall(this.#listCall(top, { delimited: true, maxKeys: 20 }));
    const page = this.#rootPage(answer);
    const seen = [...page.prefixes, ...page.objects.map((o) => o.key)].map((k) => k.slice(top.length));
    const holds = seen.length === 0 ? "is empty" : `holds ${seen.join(", ")}${page.truncated ? ", …" : ""}`;
    return new UsageError(
      `${this.location} is not a registry storage root: no key in bucket "${this.#settings.bucket}" starts with ${prefix} ` +
        `(s3://${this.#settings.bucket}/${top} ${holds}). Check rootdirectory in the registry config's storage.s3 section.`,
    );
  }

  /** A listed object, keyed below the root, its time as {@link endOfSecond} gives it. */
  #stored(object: { key: string; size: number; modifiedMs: number }): StoredObject {
    const key = object.key.slice(this.#settings.rootDirectory.length);
    return { key, size: object.size, modifiedMs: endOfSecond(object.modifiedMs) };
  }
}

/** The driver for `settings`; requests start at checkRoot or the first read. */
export function createS3Driver(settings: S3Settings, options: S3DriverOptions = {}): S3Driver {
  return new S3Driver(settings, options);
}

/** A prefix as S3 wants it: "" for the root, else ending in `/`. */
function asPrefix(prefix: string): string {
  return prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** Plain code-unit order, which for these ASCII keys is S3's UTF-8 byte order. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function lastModified(answer: S3Answer): number | undefined {
  const header = answer.headers["last-modified"];
  const ms = typeof header === "string" ? Date.parse(header) : NaN;
  return Number.isNaN(ms) ? undefined : endOfSecond(ms);
}

/**
 * An object's time as the last millisecond of its second. HEAD and GET give whole seconds, AWS's
 * listings too, some servers' listings milliseconds: one value for all of them, and the later
 * end of the second, the safe one for every use (a manifest judged younger is kept; a link
 * written just after a scan began must not look older than the scan).
 */
function endOfSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000 + 999;
}
