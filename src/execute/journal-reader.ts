/**
 * Reading a journal back for restore. Every line is checked before anything is uploaded: a line
 * that does not parse, names an invalid repository, digest or tag, or whose bytes do not hash to
 * the recorded digest is skipped with a warning naming its line number, never "repaired".
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type Digest, digestAlgorithm, digestHex, parseDigest } from "../core/digest.js";
import { UsageError } from "../core/errors.js";
import { isTagName } from "../core/tag-name.js";
import { parseRepositoryName, type RepositoryName } from "../core/repository-name.js";

/**
 * A verified journal record: the exact manifest bytes of `digest` as deleted from `repository`,
 * or, with `tag`, the tag deleted from `repository` and the bytes of the manifest it pointed at.
 */
export interface JournalEntry {
  /** 1-based line number in the journal file. */
  line: number;
  runId: string;
  time: string;
  repository: RepositoryName;
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  /** Set on a tag record: the deleted tag, which pointed at `digest`. */
  tag?: string;
}

/**
 * A repository record (`deletedRepository: true`): GitLab's record of `repository` was deleted by
 * `--delete-empty-repositories`. Nothing can be restored from it; restore reports it.
 */
export interface JournalRepositoryEntry {
  line: number;
  runId: string;
  time: string;
  repository: RepositoryName;
  project: string;
  gitlabId: number;
}

/** A line that was skipped, and why. */
export interface JournalProblem {
  line: number;
  message: string;
}

/** What a journal holds: the usable entries in file order, the repository records, and the skipped lines. */
export interface ParsedJournal {
  entries: JournalEntry[];
  /** GitLab repository records deleted, once each, in file order. */
  repositories: JournalRepositoryEntry[];
  problems: JournalProblem[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parses journal text (JSON lines). Blank lines are ignored. A manifest journaled twice (a run
 * repeated after an interruption) counts once, at its first line. A tag journaled twice can only
 * come from two runs appending to one `--journal` file, the tag pushed again in between: the LAST
 * record wins, at its own line, since it is the tag's most recent state before it was deleted.
 */
export function parseJournal(text: string): ParsedJournal {
  // Slots in file order; a tag's earlier record is emptied when a later one replaces it.
  const slots: Array<JournalEntry | undefined> = [];
  const problems: JournalProblem[] = [];
  const repositories: JournalRepositoryEntry[] = [];
  const manifests = new Set<string>();
  const tags = new Map<string, number>();
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    const parsed = parseLine(raw, line);
    if ("message" in parsed) return void problems.push(parsed);
    if ("gitlabId" in parsed) {
      if (!repositories.some((entry) => entry.repository === parsed.repository)) repositories.push(parsed);
      return;
    }
    if (parsed.tag === undefined) {
      const key = `${parsed.repository}@${parsed.digest}`;
      if (!manifests.has(key)) slots.push(parsed);
      return void manifests.add(key);
    }
    const key = `${parsed.repository}:${parsed.tag}`;
    const earlier = tags.get(key);
    if (earlier !== undefined) slots[earlier] = undefined;
    tags.set(key, slots.push(parsed) - 1);
  });
  return { entries: slots.filter((entry): entry is JournalEntry => entry !== undefined), repositories, problems };
}

/** Reads and parses a journal file. Throws UsageError (exit 2) when it cannot be read. */
export async function readJournalFile(path: string): Promise<ParsedJournal> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "it does not exist" : code === "EACCES" || code === "EPERM"
      ? "permission denied (journals are private to the user who ran the cleanup: run as that user or with sudo)"
      : code === "EISDIR" ? "it is a directory" : `${code ?? String(error)}`;
    throw new UsageError(`Cannot read the journal ${path}: ${why}. The cleanup prints its journal's path in its summary.`);
  }
  return parseJournal(text);
}

function parseLine(raw: string, line: number): JournalEntry | JournalRepositoryEntry | JournalProblem {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { line, message: "not valid JSON (a line cut short by a crash?)" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { line, message: "not a JSON object" };
  const record = json as Record<string, unknown>;
  const repository = typeof record.repository === "string" ? parseRepositoryName(record.repository) : undefined;
  if (!repository) return { line, message: `"repository" is missing or not a valid repository name` };
  if (record.deletedRepository !== undefined) return repositoryRecord(record, repository, line);
  const digest = typeof record.digest === "string" ? parseDigest(record.digest) : undefined;
  if (!digest) return { line, message: `"digest" is missing or not a sha256/sha512 digest` };
  if (typeof record.mediaType !== "string" || record.mediaType === "") return { line, message: `"mediaType" is missing` };
  if (record.tag !== undefined && (typeof record.tag !== "string" || !isTagName(record.tag))) {
    return { line, message: `"tag" is not a valid tag name (letters, digits, _ . -, at most 128, not starting with . or -)` };
  }
  if (typeof record.manifest !== "string" || !BASE64.test(record.manifest)) {
    return { line, message: `"manifest" is missing or not base64` };
  }
  const bytes = Buffer.from(record.manifest, "base64");
  const actual = createHash(digestAlgorithm(digest)).update(bytes).digest("hex");
  if (actual !== digestHex(digest)) {
    return { line, message: `the manifest bytes hash to ${digestAlgorithm(digest)}:${actual}, not ${digest}` };
  }
  return {
    line, repository, digest, bytes, mediaType: record.mediaType,
    runId: typeof record.runId === "string" ? record.runId : "",
    time: typeof record.time === "string" ? record.time : "",
    ...(typeof record.tag === "string" ? { tag: record.tag } : {}),
  };
}

/** A `deletedRepository: true` line: the project and GitLab's id, no manifest. */
function repositoryRecord(record: Record<string, unknown>, repository: RepositoryName, line: number): JournalRepositoryEntry | JournalProblem {
  if (record.deletedRepository !== true) return { line, message: `"deletedRepository" is not true` };
  if (typeof record.project !== "string" || record.project === "") return { line, message: `"project" is missing` };
  if (typeof record.gitlabId !== "number" || !Number.isSafeInteger(record.gitlabId)) return { line, message: `"gitlabId" is missing or not a number` };
  return {
    line, repository, project: record.project, gitlabId: record.gitlabId,
    runId: typeof record.runId === "string" ? record.runId : "",
    time: typeof record.time === "string" ? record.time : "",
  };
}
