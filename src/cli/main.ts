#!/usr/bin/env node
/**
 * The bin: builds the real dependencies, runs the cleanup, renders the result, and is the only
 * place that maps errors to exit codes.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { runCleanup, type CleanupDependencies } from "../cleanup.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { ProtectedPattern } from "../core/retention.js";
import { createProjectRules } from "../project-rules.js";
import { RegistryClient } from "../registry/registry-client.js";
import { RegistryTagDeleter } from "../registry/tag-deleter.js";
import { buildPolicy } from "./policy-options.js";
import { CleanupError, ExitCode, UsageError, type ExitCodeValue } from "../core/errors.js";
import type { CleanupReport } from "../core/report.js";
import { FileJournal } from "../execute/journal.js";
import { collectGarbage, refuseGarbageCollection, type GcResult } from "../gc.js";
import { GitLabRestApi } from "../gitlab/api.js";
import { SCOPES_PER_DELETING_TOKEN } from "../gitlab/token-provider.js";
import { buildPreflight } from "../preflight.js";
import { readRegistryConfig } from "../storage/registry-config.js";
import { RegistryStorage } from "../storage/registry-storage.js";
import type { StorageReader } from "../storage/storage-reader.js";
import { resolveCredentials } from "./credentials.js";
import { applyEnvironment } from "./environment.js";
import { exitCodeFor } from "./exit-code.js";
import { formatBytes, formatCount } from "./format.js";
import { buildJsonDocument } from "./json-report.js";
import { DEFAULT_GC_COMMAND, resolveOptions, type RawOptions, type ResolvedOptions } from "./options.js";
import { Output, watchClosedStreams, type ClosedStreams } from "./output.js";
import { buildProgram } from "./program.js";
import { addRestoreCommand } from "./restore-command.js";
import { addUsageCommand } from "./usage-command.js";
import { chooseStorage, type StorageChoice } from "./storage-backends.js";
import { renderSummary } from "./render.js";
import { confirmQuestion } from "./repository-render.js";
import { askToConfirm, isInteractive, processCredentialInputs } from "./terminal.js";
import { connect, onSignals, type Connection } from "./wiring.js";
import { writeWhole } from "./write-whole.js";

const VERSION = packageVersion();
/** The output of the running command, so main() can render its errors in the same mode. */
let output = new Output({ json: false, quiet: false, verbose: false, color: true });
/** Whether stdout or stderr lost its reader during the run (`| head -1`), and what that changes. */
let closedStreams: ClosedStreams = { settle: async () => {}, notice: () => undefined, exitCode: (code) => code };

async function cleanupCommand(typed: RawOptions, fromCommandLine: (key: string) => boolean): Promise<void> {
  const startedAt = new Date();
  const options = resolveOptions(applyEnvironment(typed, process.env, fromCommandLine));
  output = new Output({ ...options, collect: options.json || options.output !== undefined });
  const runId = newRunId(startedAt);
  const run: Partial<RunResult> = {};
  let failure: unknown;
  try {
    await cleanupRun(options, runId, run);
  } catch (error) {
    failure = error;
  } finally {
    output.stop();
  }
  await closedStreams.settle();
  const exitCode = closedStreams.exitCode(
    failure === undefined ? exitCodeFor(run.report!) : failure instanceof CleanupError ? failure.exitCode : ExitCode.deletionsFailed,
  );
  if (options.json || options.output) {
    const document = buildJsonDocument({
      version: VERSION, runId, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), exitCode,
      gitlabServer: options.gitlabUrl.href, registryServer: options.registryUrl.href,
      registryPath: run.storage?.location ?? options.registryPath ?? options.storage ?? null,
      storage: run.storage ?? null,
      username: run.username ?? options.user, minAgeSeconds: options.minAgeMs / 1000,
    }, run.report, output.outcomes, output.warnings, {
      ...(failure instanceof Error ? { error: failure.message } : {}), ...(run.gc ? { gc: run.gc } : {}),
      tags: { outcomes: output.tagOutcomes, kept: output.keptTags },
    });
    if (options.json) output.json(document);
    if (options.output) await writeWhole(options.output, JSON.stringify(document, null, 2) + "\n");
  }
  if (failure !== undefined) throw failure;
  process.exitCode = exitCode;
}

/** What a run produced, filled in as it goes so a failure still reports what is known. */
interface RunResult {
  storage: StorageInfo;
  username: string;
  report: CleanupReport;
  gc: GcResult;
}

async function cleanupRun(options: ResolvedOptions, runId: string, result: Partial<RunResult>): Promise<void> {
  // Before any password prompt: a wrong path or a missing sudo should not cost typing a password.
  const config = await readRegistryConfig(options.registryConfig);
  const choice = chooseStorage({ ...options, config });
  const preflight = buildPreflight({ driver: choice.driver, reading: choice.reading, config });
  await preflight();
  const storageLine = result.storage = await storageInfo(choice);
  const credentials = await resolveCredentials(options, processCredentialInputs((m) => output.notice(`Warning: ${m}`)));
  result.username = credentials.username;
  const policy = await buildPolicy(options.minAgeMs, options.policy);
  // A run that deletes sends every DELETE with its token: small tokens (SCOPES_PER_DELETING_TOKEN).
  const scopes = options.dryRun ? {} : { maxScopesPerToken: SCOPES_PER_DELETING_TOKEN };
  const connection = await connect({ ...options, actions: "pull,delete", ...scopes }, credentials);
  const { dispatcher, tokens, registry } = connection;
  const storage = new RegistryStorage(choice.driver);
  const controller = new AbortController();
  onSignals(controller);
  const gitlab = new GitLabRestApi({ gitlabUrl: options.gitlabUrl, token: credentials.secret, dispatcher });
  if (options.deleteEmptyRepositories) await requireApiToken(gitlab);
  const tags = policy.retention ? await tagWiring(options, connection, gitlab, controller.signal) : {};
  try {
    const report = await runCleanup(
      {
        storage, tokens, runId, now: Date.now, preflight,
        registry,
        gitlab,
        openJournal: () => FileJournal.open(options.journal ?? defaultJournalPath(runId)),
        // Repairs only: `push` is asked for when a push during the run needs a deleted manifest back.
        manifestWriter: new RegistryClient({ baseUrl: options.registryUrl, tokens: connection.tokensFor("pull,push"), dispatcher }),
        ...tags,
        ...(options.deleteEmptyRepositories ? { registryRepositories: gitlab } : {}),
      },
      {
        dryRun: options.dryRun, minAgeMs: options.minAgeMs, policy, concurrency: options.concurrency,
        deleteEmptyRepositories: options.deleteEmptyRepositories,
      },
      {
        ...output.events(credentials.username),
        ...(options.yes || !isInteractive() ? {} : {
          confirm: (t) => askToConfirm(confirmQuestion(t)),
        }),
      },
      controller.signal,
    );
    result.report = report;
    const collect = options.gc && wantsGarbageCollection(report);
    // Files the collection will stop at: the deletions stand, the collection is not started (exit 3).
    const refusal = collect ? refuseGarbageCollection(report.gcHazards ?? [], options.gcCommand, options.forceGc) : undefined;
    output.summary(renderSummary(report, options.minAgeMs, { gcFollows: collect && !refusal, storage: storageLine, verbose: options.verbose }));
    if (refusal) throw refusal;
    if (collect) {
      const gc = await garbageCollection(options, storage);
      if (gc) result.gc = gc;
    }
  } finally {
    await dispatcher.close().catch(() => {});
    await choice.close?.().catch(() => {});
  }
}

/**
 * Only after a real run that ended well (exit 0) and left something to free: garbage collection
 * stops the registry, which is not worth it for nothing, nor after a failure someone must look at.
 */
function wantsGarbageCollection(report: CleanupReport): boolean {
  const toFree = (report.space?.freedByRun.bytes ?? 0) + (report.space?.alreadyUnreferenced.bytes ?? 0);
  return !report.dryRun && !report.cancelled && exitCodeFor(report) === ExitCode.ok && toFree > 0;
}

/**
 * Deleting tags: by the registry's tag delete, or GitLab's dummy-manifest method, whose `push`
 * tokens are asked for only when that method is used. The patterns GitLab put in each
 * repository's token protect tags from retention.
 */
async function tagWiring(
  options: ResolvedOptions,
  connection: Connection,
  gitlab: GitLabRestApi,
  signal: AbortSignal,
): Promise<Pick<CleanupDependencies, "tagDeleter" | "tagProtection" | "projectRules">> {
  const tagDeleter = new RegistryTagDeleter({
    baseUrl: options.registryUrl, tokens: connection.tokens, pushTokens: connection.tokensFor("pull,push,delete"),
    dispatcher: connection.dispatcher, signal,
  });
  // The REST API takes tokens only: with a password, protection comes from the registry tokens alone.
  const usesToken = (await gitlab.currentUser()) !== undefined;
  if (options.policy.gitlabPolicies && !usesToken) {
    throw new UsageError(
      "--gitlab-policies reads each project's cleanup policy through GitLab's REST API, which takes personal access tokens only: " +
        "give a personal access token with the api scope instead of the password (-c file, line 2).",
    );
  }
  const projectRules = usesToken ? createProjectRules(gitlab, { policies: options.policy.gitlabPolicies, protection: true }) : undefined;
  const tagProtection = async (name: RepositoryName): Promise<ProtectedPattern[]> => {
    const patterns = connection.tokens.tagProtection(name);
    const fromProject = projectRules ? (await projectRules(name)).protectedTags : [];
    return [
      ...fromProject,
      ...(patterns?.denyDelete ?? []).map((pattern) => ({ pattern, source: "the registry token's tag_deny_access_patterns" })),
      ...(patterns?.immutable ?? []).map((pattern) => ({ pattern, source: "an immutable tag rule in the registry token" })),
    ];
  };
  return { tagDeleter, tagProtection, ...(projectRules ? { projectRules } : {}) };
}

/** --delete-empty-repositories deletes through GitLab's REST API, which takes personal access tokens only. */
async function requireApiToken(gitlab: GitLabRestApi): Promise<void> {
  if ((await gitlab.currentUser()) !== undefined) return;
  throw new UsageError(
    "--delete-empty-repositories deletes repositories through GitLab's REST API, which takes personal access tokens only " +
      "and refused this secret (a password, or a wrong or expired token): give a personal access token with the api scope " +
      "(-c file, line 2). Nothing was deleted.",
  );
}

/** Where the run read, and with which credentials. */
interface StorageInfo {
  location: string;
  driver: string;
  /** Where the credentials came from, in words (never a secret); null for a filesystem. */
  credentials: string | null;
}

async function storageInfo(choice: StorageChoice): Promise<StorageInfo> {
  return { location: choice.driver.location, driver: choice.reading, credentials: (await choice.credentialSource?.()) ?? null };
}

async function garbageCollection(options: ResolvedOptions, storage: StorageReader): Promise<GcResult | undefined> {
  const warning = options.gcCommand === DEFAULT_GC_COMMAND
    ? `Garbage collection (${options.gcCommand}) stops the registry while it runs: pushes and pulls fail meanwhile.`
    : `Running garbage collection: ${options.gcCommand}`;
  if (!options.yes && isInteractive() && !(await askToConfirm(`${warning} Run it now?`))) {
    output.notice("Garbage collection skipped.");
    return undefined;
  }
  output.notice(warning);
  const result = await collectGarbage(storage, options.gcCommand, runCommand);
  output.summary([
    `Garbage collection freed ${formatBytes(result.freed.bytes)} (${formatCount(result.freed.blobs)} blobs): ` +
      `blob store ${formatBytes(result.before.bytes)} -> ${formatBytes(result.after.bytes)}.`,
  ]);
  return result;
}

/** Runs a command without a shell; its output goes to stderr so stdout stays the report. */
function runCommand(command: string): Promise<number> {
  const [file, ...args] = command.trim().split(/\s+/);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: ["ignore", 2, 2] });
    child.on("error", (error) => reject(new CleanupError(`Could not run ${file}: ${error.message}`, ExitCode.deletionsFailed)));
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** `$XDG_STATE_HOME/gitlab-registry-cleanup/journal-<run>.jsonl`, else under ~/.local/state. */
function defaultJournalPath(runId: string): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(state, "gitlab-registry-cleanup", `journal-${runId}.jsonl`);
}

function newRunId(startedAt: Date): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

async function main(): Promise<void> {
  // `… | head -1` closes the pipe early: the run still goes to its end (docs/automation.md), and says so here.
  closedStreams = watchClosedStreams(process.stdout, process.stderr);
  // Lines waiting for a pipe are written even when a second Ctrl-C leaves at once.
  process.on("exit", () => {
    try {
      output.flush();
    } catch {
      // Leaving anyway (a reader that went away): nothing better to do with the lines.
    }
  });
  const program = buildProgram(VERSION, cleanupCommand).exitOverride();
  addRestoreCommand(program, VERSION);
  addUsageCommand(program, VERSION);
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message already; help and version are successes, the rest usage errors.
      process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    if (error instanceof CleanupError) {
      output.error(`Error: ${error.message}`);
      process.exitCode = error.exitCode;
      return;
    }
    output.error(`Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DEBUG) output.error(String((error as Error).stack));
    process.exitCode = ExitCode.deletionsFailed;
  } finally {
    output.flush();
    await closedStreams.settle();
    const notice = closedStreams.notice();
    if (notice) output.warning(notice);
    process.exitCode = closedStreams.exitCode((process.exitCode ?? ExitCode.ok) as ExitCodeValue);
  }
}

await main();
