#!/usr/bin/env node
/**
 * The bin: builds the real dependencies, runs the cleanup, renders the result, and is the only
 * place that maps errors to exit codes.
 */
import { randomBytes } from "node:crypto";
import { CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { runCleanup } from "../cleanup.js";
import { CleanupError, ExitCode, UsageError } from "../core/errors.js";
import { FileJournal } from "../execute/journal.js";
import { GitLabRestApi } from "../gitlab/api.js";
import { GitLabTokenProvider } from "../gitlab/token-provider.js";
import { buildPreflight } from "../preflight.js";
import { createDispatcher } from "../registry/http.js";
import { RegistryClient } from "../registry/registry-client.js";
import { FilesystemStorageReader } from "../storage/filesystem-reader.js";
import { resolveCredentials } from "./credentials.js";
import { exitCodeFor } from "./exit-code.js";
import { resolveOptions, type RawOptions, type ResolvedOptions } from "./options.js";
import { buildProgram } from "./program.js";
import { renderOutcome, renderSignedIn, renderSkipped, renderSummary, renderWarning } from "./render.js";
import { askToConfirm, isInteractive, processCredentialInputs } from "./terminal.js";

const out = (line: string): void => void process.stdout.write(line + "\n");
const err = (line: string): void => void process.stderr.write(line + "\n");

async function cleanupCommand(raw: RawOptions): Promise<void> {
  const options = resolveOptions(raw);
  const credentials = await resolveCredentials(options, processCredentialInputs((m) => err(`Warning: ${m}`)));
  const dispatcher = createDispatcher({ insecure: options.insecure, ...(await caCert(options)) });
  const tokens = new GitLabTokenProvider({
    gitlabUrl: options.gitlabUrl, username: credentials.username, secret: credentials.secret, dispatcher,
  });
  const runId = newRunId();
  const controller = new AbortController();
  onSignals(controller);
  const report = await runCleanup(
    {
      storage: new FilesystemStorageReader(options.registryPath),
      tokens,
      registry: new RegistryClient({ baseUrl: options.registryUrl, tokens, dispatcher }),
      gitlab: new GitLabRestApi({ gitlabUrl: options.gitlabUrl, token: credentials.secret, dispatcher }),
      preflight: buildPreflight(options.registryPath, options.registryConfig),
      openJournal: () => FileJournal.open(options.journal ?? defaultJournalPath(runId)),
      now: Date.now,
      runId,
    },
    { dryRun: options.dryRun, minAgeMs: options.minAgeMs, concurrency: options.concurrency },
    {
      warning: (w) => err(renderWarning(w)),
      signedIn: (user) => err(renderSignedIn(credentials.username, user)),
      skipped: (s) => err(renderSkipped(s)),
      outcome: (o) => (o.kind === "failed" ? err : out)(renderOutcome(o)),
      ...(options.yes || !isInteractive() ? {} : {
        confirm: (t) => askToConfirm(`Delete ${t.candidates} untagged manifests in ${t.repositories} repositories?`),
      }),
    },
    controller.signal,
  );
  renderSummary(report, options.minAgeMs).forEach(out);
  process.exitCode = exitCodeFor(report);
}

async function caCert(options: ResolvedOptions): Promise<{ caCert?: Buffer }> {
  if (options.caCert === undefined) return {};
  try {
    return { caCert: await readFile(options.caCert) };
  } catch (error) {
    throw new UsageError(`Cannot read --ca-cert ${options.caCert}: ${(error as NodeJS.ErrnoException).code ?? error}.`);
  }
}

/** `$XDG_STATE_HOME/gitlab-registry-cleanup/journal-<run>.jsonl`, else under ~/.local/state. */
function defaultJournalPath(runId: string): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(state, "gitlab-registry-cleanup", `journal-${runId}.jsonl`);
}

function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

/** First Ctrl-C / SIGTERM: stop taking work, finish in-flight requests. Second: leave now. */
function onSignals(controller: AbortController): void {
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    err("Interrupted: finishing requests in flight (press Ctrl-C again to stop at once)...");
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

async function main(): Promise<void> {
  const program = buildProgram(packageVersion(), cleanupCommand).exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message already; help and version are successes, the rest usage errors.
      process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    if (error instanceof CleanupError) {
      err(`Error: ${error.message}`);
      process.exitCode = error.exitCode;
      return;
    }
    err(`Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DEBUG) err(String((error as Error).stack));
    process.exitCode = ExitCode.deletionsFailed;
  }
}

await main();
