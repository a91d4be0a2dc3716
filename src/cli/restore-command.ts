/**
 * `gitlab-registry-cleanup restore <journal>`: puts journaled manifests back by digest, then
 * journaled tags by name. A shell around runRestore (src/restore.ts): resolve flags, build
 * dependencies, render the result.
 */
import { Command } from "commander";
import { type Digest, parseDigest } from "../core/digest.js";
import { ExitCode, UsageError } from "../core/errors.js";
import { explainInvalidName, parseRepositoryName, type RepositoryName } from "../core/repository-name.js";
import { isTagName } from "../core/tag-name.js";
import { type ParsedJournal, readJournalFile } from "../execute/journal-reader.js";
import { runRestore, type RestoreOutcome, type RestoreReport, type TagRestoreOutcome } from "../restore.js";
import { PASSWORD_ENV, resolveCredentials } from "./credentials.js";
import { applyEnvironment } from "./environment.js";
import { DEFAULT_USER, parseServer, type RawOptions } from "./options.js";
import { pathValue } from "./path-value.js";
import {
  renderJournalProblem, renderNotInJournal, renderRepositoryRecord, renderRestoreOutcome, renderRestoreSummary, renderTagNotInJournal,
  renderTagOutcome, restoreJson,
} from "./restore-render.js";
import { processCredentialInputs } from "./terminal.js";
import { connect, err, onSignals, out } from "./wiring.js";

/** Raw flags of the restore command (the connection flags are the cleanup's). */
interface RawRestoreOptions extends RawOptions {
  repository?: string[];
  digest?: string[];
  tag?: string[];
}

const HELP_AFTER = `
Puts back, by digest, the manifests a cleanup recorded in its journal (the summary printed its
path), then the tags it deleted, each onto the manifest it pointed at. Only possible until garbage
collection has removed their layers. Children are restored before the indexes that list them,
subjects before their referrers, manifests before tags. A tag that exists again, pointing at
something else, is left alone. Needs push: the Developer role or higher (a personal access token
needs the api or write_registry scope).

Examples:
  gitlab-registry-cleanup restore ~/.local/state/gitlab-registry-cleanup/journal-<run>.jsonl \\
    -g gitlab.example.com -r registry.example.com -c /root/.registry-cleanup -n
  ... --repository group/project --digest sha256:0123…   (an index brings its journaled children)
  ... --repository group/project --tag v1.2 --tag latest (a tag brings its journaled manifest)

Password or token, in this order: -c file, --password, $${PASSWORD_ENV},
a prompt on a terminal, else the first line of standard input.

Exit codes:
  0    every selected manifest and tag was restored or is already present (or
       skipped: a tag pushed again since)
  1    some could not be restored (or journal lines were unusable)
  2    usage or input error (flags, the journal cannot be read)
  4    GitLab refused the credentials
  130  interrupted
`;

/** Adds the `restore` subcommand to the program. */
export function addRestoreCommand(program: Command, version: string): void {
  program
    .command("restore")
    .description("Re-upload manifests a cleanup deleted, from its journal, until garbage collection runs.")
    .argument("<journal>", "the journal file the cleanup wrote (its path is in the cleanup's summary)")
    .option("-g, --gitlab-server <host>", "GitLab hostname or URL, e.g. gitlab.example.com")
    .option("-r, --registry-server <host>", "registry hostname or URL, e.g. registry.example.com")
    .option("-c, --credentials-file <file>", "file with the username (line 1) and password or token (line 2)")
    .option("-u, --user <name>", `GitLab username (default: "${DEFAULT_USER}")`)
    .option("--password <secret>", "password or token (visible in the process list; prefer -c)")
    .option("-k, --insecure", "allow http:// URLs and skip TLS certificate verification")
    .option("--ca-cert <file>", "PEM file with the CA that signed the GitLab and registry certificates")
    .option("--repository <name>", "only this repository (repeatable, or a comma list)", collect)
    .option("--digest <digest>", "only this manifest, its journaled tags, and what they need (repeatable, or a comma list)", collect)
    .option("--tag <tag>", "only this journaled tag and the manifests it needs (exact name; repeatable, or a comma list)", collect)
    .option("-n, --dry-run", "say what would be restored, change nothing (asks only for pull)")
    .option("--json", "write the outcome as one JSON document on stdout")
    .addHelpText("after", HELP_AFTER)
    .action(async (journal: string, _options: unknown, command: Command) => {
      await restoreCommand(journal, mergedOptions(command), version);
    });
}

/** Repeatable flag that also takes comma lists. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((part) => part.trim()).filter((part) => part !== "")];
}

/**
 * Commander lets the parent program consume its own flags (-g, -n, --json…) wherever they are
 * typed, so the restore command reads both; its own values win. The environment fills the rest.
 */
function mergedOptions(command: Command): RawRestoreOptions {
  const parent = command.parent;
  const merged: Record<string, unknown> = { ...parent?.opts() };
  for (const [key, value] of Object.entries(command.opts())) if (value !== undefined) merged[key] = value;
  const typed = (key: string): boolean =>
    command.getOptionValueSource(key) === "cli" || parent?.getOptionValueSource(key) === "cli";
  return applyEnvironment(merged as RawRestoreOptions, process.env, typed) as RawRestoreOptions;
}

async function restoreCommand(journalPath: string, raw: RawRestoreOptions, version: string): Promise<void> {
  const insecure = raw.insecure === true;
  const gitlabUrl = parseServer(raw.gitlabServer, "-g/--gitlab-server", insecure);
  const registryUrl = parseServer(raw.registryServer, "-r/--registry-server", insecure);
  const filters = parseFilters(raw);
  // Before the journal is read: `-c -n` must not restore for real with credentials from a file "-n".
  pathValue(raw.credentialsFile, "-c/--credentials-file");
  pathValue(raw.caCert, "--ca-cert");
  const dryRun = raw.dryRun === true;
  const json = raw.json === true;
  const journal = await readJournalFile(journalPath);
  journal.problems.forEach((problem) => err(renderJournalProblem(journalPath, problem)));
  const credentials = await resolveCredentials(
    { user: raw.user ?? DEFAULT_USER, ...pick(raw, "credentialsFile", "password") },
    processCredentialInputs((m) => err(`Warning: ${m}`)),
  );
  const connection = await connect(
    { gitlabUrl, registryUrl, insecure, ...pick(raw, "caCert"), actions: dryRun ? "pull" : "pull,push" }, credentials,
  );
  const controller = new AbortController();
  const removeHandlers = onSignals(controller, "uploads in flight");
  const outcomes: RestoreOutcome[] = [];
  const tagOutcomes: TagRestoreOutcome[] = [];
  try {
    const report = await runRestore(journal.entries, connection, { dryRun, ...filters }, {
      outcome: (o) => {
        outcomes.push(o);
        if (!json) (o.kind === "failed" ? err : out)(renderRestoreOutcome(o));
      },
      tagOutcome: (o) => {
        tagOutcomes.push(o);
        if (!json) (o.kind === "failed" ? err : out)(renderTagOutcome(o));
      },
    }, controller.signal);
    finish(report, { version, journalPath, journal, filters, json, outcomes, tagOutcomes });
  } finally {
    removeHandlers();
    await connection.dispatcher.close();
  }
}

/** After the run: warnings for filter values found nowhere, the summary or JSON, the exit code. */
function finish(report: RestoreReport, run: {
  version: string; journalPath: string; journal: ParsedJournal; filters: Filters; json: boolean;
  outcomes: RestoreOutcome[]; tagOutcomes: TagRestoreOutcome[];
}): void {
  const { journalPath, journal, filters } = run;
  report.notInJournal.forEach((digest) => err(renderNotInJournal(journalPath, digest)));
  report.tagsNotInJournal.forEach((tag) => err(renderTagNotInJournal(journalPath, tag)));
  const filtered = filters.repositories || filters.digests || filters.tags;
  if (report.selected + report.selectedTags === 0 && filtered && journal.entries.length > 0) {
    throw new UsageError(`Nothing in ${journalPath} matches the --repository/--digest/--tag filters.`);
  }
  const problems = journal.problems;
  const repositoryRecords = journal.repositories.filter((entry) => !filters.repositories || filters.repositories.has(entry.repository));
  if (!run.json) repositoryRecords.forEach((entry) => err(renderRepositoryRecord(entry)));
  if (run.json) out(restoreJson({ ...run, journal: journalPath, problems, repositoryRecords }, report));
  else renderRestoreSummary(report, problems.length, repositoryRecords.length).forEach(out);
  const incomplete = report.outcomes.failed > 0 || report.tagOutcomes.failed > 0 || problems.length > 0 ||
    report.notInJournal.length > 0 || report.tagsNotInJournal.length > 0;
  process.exitCode = report.interrupted ? ExitCode.interrupted : incomplete ? ExitCode.deletionsFailed : ExitCode.ok;
}

/** The --repository, --digest and --tag values, parsed. */
type Filters = { repositories?: Set<RepositoryName>; digests?: Set<Digest>; tags?: Set<string> };

function parseFilters(raw: RawRestoreOptions): Filters {
  const filters: Filters = {};
  if (raw.repository && raw.repository.length > 0) {
    filters.repositories = new Set(raw.repository.map((text) => {
      const name = parseRepositoryName(text);
      if (!name) throw new UsageError(`Invalid --repository "${text}": ${explainInvalidName(text)}.`);
      return name;
    }));
  }
  if (raw.digest && raw.digest.length > 0) {
    filters.digests = new Set(raw.digest.map((text) => {
      const digest = parseDigest(text);
      if (!digest) throw new UsageError(`Invalid --digest "${text}": expected sha256: followed by 64 lowercase hex digits.`);
      return digest;
    }));
  }
  if (raw.tag && raw.tag.length > 0) {
    filters.tags = new Set(raw.tag.map((text) => {
      if (isTagName(text)) return text;
      throw new UsageError(`Invalid --tag "${text}": a tag is up to 128 letters, digits, _ . and -, not starting with . or - ` +
        "(exact names: no patterns).");
    }));
  }
  return filters;
}

/** The keys of `raw` that are set, for exactOptionalPropertyTypes-friendly spreading. */
function pick<K extends keyof RawRestoreOptions>(raw: RawRestoreOptions, ...keys: K[]): Partial<Pick<RawRestoreOptions, K>> {
  const picked: Partial<Pick<RawRestoreOptions, K>> = {};
  for (const key of keys) if (raw[key] !== undefined) picked[key] = raw[key];
  return picked;
}
