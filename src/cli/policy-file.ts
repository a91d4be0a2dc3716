/**
 * Reads `--policy-file <file.yml>`: per-repository tag retention rules with GitLab's field names.
 *
 * ```yaml
 * rules:                             # tried in order: the first entry matching a repository wins
 *   - repositories: [group/app, group/app/**]
 *     keep_n: 10                     # keep the 10 newest tags that the regexes would delete
 *     name_regex_delete: "main-.*"   # alias: name_regex; default ".*"
 *   - repositories: group/**         # one glob or a list
 *     older_than: 14d                # durations as --min-age takes them
 *     name_regex: "mr-.*"
 *     name_regex_keep: "mr-1"        # whole-name match: keeps mr-1, not mr-10
 *   - repositories: [legacy/**]
 *     retention: false               # never touch these repositories' tags
 * ```
 *
 * Keys are GitLab's (`container_expiration_policy`); a key set to null counts as absent, as in
 * GitLab's API. Anything malformed is a UsageError naming the file and the line.
 */
import { readFile } from "node:fs/promises";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { repositoryGlobProblem, type RetentionEntry } from "../core/policy.js";
import { compileTagRegex, type RetentionRules } from "../core/retention.js";

const ENTRY_KEYS = ["repositories", "keep_n", "older_than", "name_regex_delete", "name_regex", "name_regex_keep", "retention"];

/** Reads and checks the policy file at `path`. Throws UsageError naming the file (and line). */
export async function readPolicyFile(
  path: string,
  read: (path: string) => Promise<string> = (file) => readFile(file, "utf8"),
): Promise<RetentionEntry[]> {
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    throw new UsageError(`Cannot read the policy file ${path}: ${readProblem(error)}.`, { cause: error });
  }
  return parsePolicyFile(path, text);
}

/** Parses policy-file text; `path` is only used in messages. */
export function parsePolicyFile(path: string, text: string): RetentionEntry[] {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const reader = new PolicyReader(path, document, lines);
  const syntax = document.errors[0];
  if (syntax) {
    // The parser's own words, up to any advice about its API ("…; please use parseAllDocuments()").
    const words = syntax.message.split(/[;\n]/)[0]!.replace(/ at line \d+.*$/, "");
    reader.fail(lines.linePos(syntax.pos[0]).line, `is not valid YAML (${words})`);
  }
  return reader.entries();
}

class PolicyReader {
  constructor(
    private readonly path: string,
    private readonly document: Document,
    private readonly lines: LineCounter,
  ) {}

  entries(): RetentionEntry[] {
    const root = this.resolve(this.document.contents);
    if (!isMap(root)) this.fail(this.lineOf(root), 'must be a mapping with a "rules:" list');
    let rules: Node | undefined;
    for (const pair of root.items) {
      const key = this.keyName(pair.key);
      if (key !== "rules") this.fail(this.lineOf(pair.key), `has an unknown key "${key}" (the only top-level key is "rules")`);
      rules = this.resolve(pair.value);
    }
    if (!isSeq(rules)) this.fail(this.lineOf(rules ?? root), 'needs "rules:" to be a list of entries');
    return rules.items.map((item) => this.entry(this.resolve(item)));
  }

  private entry(node: Node | undefined): RetentionEntry {
    const line = this.lineOf(node);
    if (!isMap(node)) this.fail(line, "an entry of rules must be a mapping with repositories: and rule fields");
    const fields = new Map<string, Node>();
    for (const pair of node.items) {
      const key = this.keyName(pair.key);
      if (!ENTRY_KEYS.includes(key)) {
        this.fail(this.lineOf(pair.key), `has an unknown key "${key}" (known: ${ENTRY_KEYS.join(", ")})`);
      }
      const value = this.resolve(pair.value);
      if (value !== undefined && !(isScalar(value) && value.value === null)) fields.set(key, value);
    }
    const repositories = this.repositories(fields.get("repositories"), line);
    return { repositories, rules: this.rules(fields, line), line };
  }

  private repositories(node: Node | undefined, entryLine: number | undefined): string[] {
    if (node === undefined) this.fail(entryLine, "an entry needs repositories: (glob patterns of repository paths)");
    const items = isSeq(node) ? node.items.map((item) => this.resolve(item)) : [node];
    if (items.length === 0) this.fail(this.lineOf(node), "repositories: is empty");
    return items.map((item) => {
      const glob = isScalar(item) && typeof item.value === "string" ? item.value : undefined;
      if (glob === undefined) this.fail(this.lineOf(item), "repositories: must hold glob patterns (strings)");
      const problem = repositoryGlobProblem(glob);
      if (problem !== undefined) this.fail(this.lineOf(item), `repository pattern "${glob}": ${problem}`);
      return glob;
    });
  }

  private rules(fields: Map<string, Node>, entryLine: number | undefined): RetentionRules | false {
    const retention = fields.get("retention");
    if (retention !== undefined) {
      if (!isScalar(retention) || retention.value !== false) this.fail(this.lineOf(retention), "retention: may only be false");
      if (fields.size > 2) this.fail(entryLine, "an entry with retention: false takes no rule fields");
      return false;
    }
    if (fields.has("name_regex_delete") && fields.has("name_regex")) {
      this.fail(this.lineOf(fields.get("name_regex")), "give name_regex_delete or its alias name_regex, not both");
    }
    if (fields.size < 2) {
      this.fail(entryLine, "an entry needs a rule: keep_n, older_than, name_regex_delete, name_regex_keep, or retention: false");
    }
    const rules: RetentionRules = {
      nameRegexDelete: this.regex(fields, fields.has("name_regex") ? "name_regex" : "name_regex_delete") ?? ".*",
    };
    const keep = this.regex(fields, "name_regex_keep");
    if (keep !== undefined) rules.nameRegexKeep = keep;
    const keepN = this.keepN(fields.get("keep_n"));
    if (keepN !== undefined) rules.keepN = keepN;
    const olderThan = this.olderThan(fields.get("older_than"));
    if (olderThan !== undefined) rules.olderThanMs = olderThan;
    return rules;
  }

  private regex(fields: Map<string, Node>, key: string): string | undefined {
    const node = fields.get(key);
    if (node === undefined) return undefined;
    const line = this.lineOf(node);
    if (!isScalar(node) || typeof node.value !== "string") this.fail(line, `${key}: must be a regular expression in quotes`);
    try {
      compileTagRegex(node.value, key);
    } catch (error) {
      this.fail(line, error instanceof Error ? error.message.replace(/\.$/, "") : String(error));
    }
    return node.value;
  }

  private keepN(node: Node | undefined): number | undefined {
    if (node === undefined) return undefined;
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      this.fail(this.lineOf(node), "keep_n: must be a whole number of tags (0 or more)");
    }
    return value;
  }

  private olderThan(node: Node | undefined): number | undefined {
    if (node === undefined) return undefined;
    const value = isScalar(node) && (typeof node.value === "string" || node.value === 0) ? String(node.value) : undefined;
    const ms = value === undefined ? undefined : parseDuration(value);
    if (ms === undefined) this.fail(this.lineOf(node), "older_than: must be a duration such as 14d, 24h or 1h30m");
    return ms;
  }

  private keyName(key: unknown): string {
    const node = this.resolve(key);
    if (isScalar(node) && typeof node.value === "string") return node.value;
    return this.fail(this.lineOf(node), "has a key that is not a name");
  }

  /** Follows an alias (`*name`) to the node it names. */
  private resolve(node: unknown): Node | undefined {
    if (isAlias(node)) {
      const target = node.resolve(this.document);
      if (target === undefined) this.fail(this.lineOf(node), `*${node.source} names no anchor (quote a value that starts with *)`);
      return this.resolve(target);
    }
    return isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
  }

  private lineOf(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  fail(line: number | undefined, what: string): never {
    const where = line === undefined ? this.path : `${this.path} line ${line}`;
    throw new UsageError(`Policy file ${where}: ${what}.`);
  }
}

function readProblem(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT") return "there is no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return typeof code === "string" ? code : "unknown error";
}
