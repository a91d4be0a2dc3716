/**
 * What the registry holds, seen the two ways the tool's promises are about: the revision links on
 * disk, and what the registry serves over HTTP. Also reads a cleanup's journal back.
 */
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { MANIFEST_ACCEPT } from "../../src/core/media-types.js";
import type { Environment } from "./environment.js";
import { fetchToken, registryCall, sha256Digest, type Credentials } from "./registry-http.js";

/** The revision link of `digest` in `repo`. */
export function revisionLink(env: Environment, repo: string, digest: string): string {
  return join(env.registry.storageRoot, "docker/registry/v2/repositories", repo, "_manifests/revisions/sha256",
    digest.slice("sha256:".length), "link");
}

/** True while the revision link exists on disk. */
export async function hasRevision(env: Environment, repo: string, digest: string): Promise<boolean> {
  return access(revisionLink(env, repo, digest)).then(() => true, () => false);
}

/** A manifest as the registry serves it: GET with every manifest type accepted. */
export interface Served {
  status: number;
  bytes: Buffer;
  mediaType: string | undefined;
  /** `Docker-Content-Digest`, and the digest of the bytes actually received. */
  headerDigest: string | undefined;
  bodyDigest: string;
}

/** GETs `repo@digest` with a fresh pull token for `credentials`. */
export async function getServed(env: Environment, credentials: Credentials, repo: string, digest: string): Promise<Served> {
  const token = await fetchToken(env.gitlab.realm, credentials, [`repository:${repo}:pull`]);
  const reply = await registryCall(env.registry.url, "GET", `/v2/${repo}/manifests/${digest}`, {
    token, headers: { accept: MANIFEST_ACCEPT },
  });
  const header = (name: string): string | undefined => {
    const value = reply.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    status: reply.status, bytes: reply.body, mediaType: header("content-type"),
    headerDigest: header("docker-content-digest"), bodyDigest: sha256Digest(reply.body),
  };
}

/** One journal line as the cleanup wrote it. */
export interface JournalLine {
  runId: string;
  time: string;
  repository: string;
  digest: string;
  mediaType: string;
  /** base64 */
  manifest: string;
}

/** Every line of a journal, parsed; throws on a line that is not JSON (the journal must never have one). */
export async function readJournalLines(path: string): Promise<JournalLine[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.split("\n").filter((line) => line !== "").map((line, index) => {
    try {
      return JSON.parse(line) as JournalLine;
    } catch (error) {
      throw new Error(`journal ${path} line ${index + 1} is not JSON: ${line.slice(0, 80)}`, { cause: error });
    }
  });
}

/** Lines of `text` starting with `prefix`, sorted. */
export function linesStarting(text: string, prefix: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(prefix)).sort();
}
