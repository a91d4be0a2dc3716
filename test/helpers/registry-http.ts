/**
 * Raw HTTP against the registry and the stand-in's token endpoint, for test helpers and tests
 * that need to see statuses and headers exactly as the registry sends them.
 */
import { createHash } from "node:crypto";
import { request } from "undici";
import { decodeTokenClaims } from "./gitlab-standin.js";

/** A username and a password or personal access token. */
export interface Credentials {
  username: string;
  secret: string;
}

/** A registry answer, body read in full. */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What pushing needs: where the registry is, where tokens come from, and whose rights to use. */
export interface PushContext {
  registryUrl: string;
  realm: string;
  credentials: Credentials;
  service: string;
  /** push,pull tokens by repository, reused until shortly before they expire. */
  tokens: Map<string, { token: string; exp: number }>;
}

/** A push context for a user with push rights on the repositories it will be used for. */
export function createPushContext(registryUrl: string, realm: string, credentials: Credentials): PushContext {
  return { registryUrl, realm, credentials, service: "container_registry", tokens: new Map() };
}

/**
 * Asks /jwt/auth for a token covering `scopes` (one request, repeated `scope` parameters).
 * Without credentials the request is anonymous. Throws with the status and body on refusal.
 */
export async function fetchToken(
  realm: string,
  credentials: Credentials | undefined,
  scopes: string[],
  service = "container_registry",
): Promise<string> {
  const url = new URL(realm);
  url.searchParams.set("service", service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  const headers: Record<string, string> = {};
  if (credentials) {
    const basic = Buffer.from(`${credentials.username}:${credentials.secret}`).toString("base64");
    headers.authorization = `Basic ${basic}`;
  }
  const response = await request(url, { headers });
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`GET /jwt/auth as ${credentials?.username ?? "anonymous"} answered ${response.statusCode}: ${text}`);
  }
  return (JSON.parse(text) as { token: string }).token;
}

/** Sends one request to the registry (path relative to it, or an absolute URL) and reads the body. */
export async function registryCall(
  registryUrl: string,
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "PATCH",
  pathOrUrl: string,
  options: { token?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RegistryResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await request(new URL(pathOrUrl, registryUrl), { method, headers, body: options.body });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Uploads a blob monolithically (POST, then PUT ?digest=) and returns its digest. */
export async function uploadBlob(ctx: PushContext, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256Digest(bytes);
  const token = await pushToken(ctx, repo);
  const started = await registryCall(ctx.registryUrl, "POST", `/v2/${repo}/blobs/uploads/`, { token });
  const location = started.headers.location;
  if (started.status !== 202 || typeof location !== "string") {
    throw new Error(`starting a blob upload to ${repo} answered ${started.status}: ${started.body.toString()}`);
  }
  // Location may be relative or absolute, and already carries query parameters (_state).
  const target = new URL(location, ctx.registryUrl);
  target.searchParams.set("digest", digest);
  const put = await registryCall(ctx.registryUrl, "PUT", target.toString(), {
    token,
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  if (put.status !== 201) {
    throw new Error(`uploading blob ${digest} to ${repo} answered ${put.status}: ${put.body.toString()}`);
  }
  return digest;
}

/** PUTs a manifest by tag or digest and returns the digest the registry reports. */
export async function putManifest(
  ctx: PushContext,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
): Promise<string> {
  const token = await pushToken(ctx, repo);
  const put = await registryCall(ctx.registryUrl, "PUT", `/v2/${repo}/manifests/${reference}`, {
    token,
    body: bytes,
    headers: { "content-type": mediaType },
  });
  if (put.status !== 201) {
    throw new Error(`PUT manifest ${repo}:${reference} answered ${put.status}: ${put.body.toString()}`);
  }
  const digest = put.headers["docker-content-digest"];
  return typeof digest === "string" ? digest : sha256Digest(bytes);
}

/** A cached `push,pull` token for `repo`, renewed 30 s before it expires. */
export async function pushToken(ctx: PushContext, repo: string): Promise<string> {
  const cached = ctx.tokens.get(repo);
  if (cached && cached.exp - 30 > Date.now() / 1000) return cached.token;
  const token = await fetchToken(ctx.realm, ctx.credentials, [`repository:${repo}:push,pull`], ctx.service);
  const claims = decodeTokenClaims(token);
  const entry = claims.access.find((a) => a.type === "repository" && a.name === repo);
  if (!entry?.actions.includes("push")) {
    throw new Error(`${ctx.credentials.username} got no push right on ${repo} (access ${JSON.stringify(claims.access)})`);
  }
  ctx.tokens.set(repo, { token, exp: claims.exp });
  return token;
}
