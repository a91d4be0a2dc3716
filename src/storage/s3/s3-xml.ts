/**
 * The two XML documents the S3 driver reads: a ListObjectsV2 result page and an `<Error>` body.
 * A purpose-built scanner rather than an XML library: these documents are flat, machine-written
 * and element-only, a scan reads up to a thousand keys a page, and a general parser would be a new
 * dependency that allocates a tree per page only to throw it away.
 */

/** One object of a listing page, with the key as S3 spelled it (decoded). */
export interface ListedObject {
  key: string;
  size: number;
  /** LastModified, in ms since the epoch. */
  modifiedMs: number;
}

/** One ListObjectsV2 page. */
export interface ListPage {
  objects: ListedObject[];
  /** Full keys of the common prefixes (ending in the delimiter), decoded. */
  prefixes: string[];
  truncated: boolean;
  /** Pass back as `continuation-token` for the next page; present when `truncated`. */
  nextToken?: string;
}

/** What an S3 `<Error>` body says. */
export interface S3ErrorBody {
  code?: string;
  message?: string;
}

/**
 * Parses a ListObjectsV2 result. With `encoding-type=url` in the request S3 URL-encodes keys and
 * prefixes (so that keys with characters XML cannot carry survive) and says so in `<EncodingType>`;
 * they are decoded here. Throws on a document that is not a ListBucketResult.
 */
export function parseListPage(xml: string): ListPage {
  if (!xml.includes("<ListBucketResult")) throw new Error(`not a ListBucketResult: ${snippet(xml)}`);
  const urlEncoded = textOf(xml, "EncodingType")?.toLowerCase() === "url";
  const decode = urlEncoded ? decodeUrlKey : (text: string) => text;
  const objects: ListedObject[] = [];
  for (const entry of blocks(xml, "Contents")) {
    const key = textOf(entry, "Key");
    if (key === undefined) throw new Error("a <Contents> entry without <Key>");
    const size = Number(textOf(entry, "Size") ?? 0);
    objects.push({ key: decode(key), size, modifiedMs: Date.parse(textOf(entry, "LastModified") ?? "") });
  }
  const prefixes: string[] = [];
  for (const entry of blocks(xml, "CommonPrefixes")) {
    const prefix = textOf(entry, "Prefix");
    if (prefix !== undefined) prefixes.push(decode(prefix));
  }
  // Elements of these names appear only at the top level, never inside an entry.
  const truncated = textOf(xml, "IsTruncated") === "true";
  const nextToken = textOf(xml, "NextContinuationToken");
  return { objects, prefixes, truncated, ...(nextToken !== undefined ? { nextToken } : {}) };
}

/** Code and Message of an S3 `<Error>` body; empty for anything else (a proxy's HTML page). */
export function parseErrorBody(xml: string): S3ErrorBody {
  const start = xml.indexOf("<Error>");
  if (start < 0) return {};
  const end = xml.indexOf("</Error>", start);
  const body = xml.slice(start, end < 0 ? xml.length : end);
  const code = textOf(body, "Code");
  const message = textOf(body, "Message");
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}

/** Decodes the five predefined XML entities and numeric character references. */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (whole, name: string) => {
    if (name[0] === "#") {
      const point = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return point <= 0x10ffff ? String.fromCodePoint(point) : whole;
    }
    return ENTITIES[name] ?? whole;
  });
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * A key as `encoding-type=url` spells it. S3 form-encodes (a space is `+`, a literal `+` is
 * `%2B`), as botocore's and aws-sdk-go's decoders assume; a malformed escape is kept as it is
 * rather than failing the whole page.
 */
export function decodeUrlKey(text: string): string {
  const plain = text.includes("+") ? text.replace(/\+/g, " ") : text;
  if (!plain.includes("%")) return plain;
  try {
    return decodeURIComponent(plain);
  } catch {
    return plain;
  }
}

/** The content of every `<tag>…</tag>`, in order. */
function* blocks(xml: string, tag: string): Generator<string> {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at)) {
    const start = at + open.length;
    const end = xml.indexOf(close, start);
    if (end < 0) throw new Error(`an unterminated <${tag}> element`);
    yield xml.slice(start, end);
    at = end + close.length;
  }
}

/**
 * The decoded text of the first `<tag>` in `xml`, "" for `<tag/>`, undefined if there is none.
 * Callers pass one block (a sliced string, which V8 makes without copying) so that no search
 * runs past it: scanning the rest of a page per entry would make a page cost quadratic time.
 */
function textOf(xml: string, tag: string): string | undefined {
  const open = `<${tag}>`;
  const at = xml.indexOf(open);
  if (at < 0) return xml.includes(`<${tag}/>`) ? "" : undefined;
  const start = at + open.length;
  const end = xml.indexOf(`</${tag}>`, start);
  if (end < 0) throw new Error(`an unterminated <${tag}> element`);
  return decodeEntities(xml.slice(start, end));
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat || "(empty)";
}
