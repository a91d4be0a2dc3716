/**
 * Wiring shared by the CLI's commands: output, the CA file, the HTTP connections to GitLab and
 * the registry, and Ctrl-C handling. Commands build their dependencies here; main.ts alone maps
 * errors to exit codes.
 */
import { readFile } from "node:fs/promises";
import type { Dispatcher } from "undici";
import { ExitCode, UsageError } from "../core/errors.js";
import type { TokenActions } from "../gitlab/ports.js";
import { GitLabTokenProvider } from "../gitlab/token-provider.js";
import { createDispatcher } from "../registry/http.js";
import { RegistryClient } from "../registry/registry-client.js";
import type { Credentials } from "./credentials.js";

/** A line on standard output. */
export const out = (line: string): void => void process.stdout.write(line + "\n");
/** A line on standard error. */
export const err = (line: string): void => void process.stderr.write(line + "\n");

/** The contents of --ca-cert, or nothing when the flag is absent. Throws UsageError when unreadable. */
export async function readCaCert(path: string | undefined): Promise<{ caCert?: Buffer }> {
  if (path === undefined) return {};
  try {
    return { caCert: await readFile(path) };
  } catch (error) {
    throw new UsageError(`Cannot read --ca-cert ${path}: ${(error as NodeJS.ErrnoException).code ?? error}.`);
  }
}

/** Where and how to connect. */
export interface ConnectionOptions {
  gitlabUrl: URL;
  registryUrl: URL;
  insecure: boolean;
  caCert?: string;
  /** The actions every token asks for: `pull,delete` for the cleanup, `pull,push` for restore. */
  actions: TokenActions;
  /** At most this many repositories per token (GitLabTokenProviderOptions.maxScopesPerToken). */
  maxScopesPerToken?: number;
}

/** The run's dispatcher, token provider and registry client. Close the dispatcher when done. */
export interface Connection {
  dispatcher: Dispatcher;
  tokens: GitLabTokenProvider;
  registry: RegistryClient;
  /** Another token provider over the same connection, asking for other actions (requests nothing until used). */
  tokensFor(actions: TokenActions): GitLabTokenProvider;
}

/** Builds one dispatcher for the run and the token provider and registry client over it. */
export async function connect(options: ConnectionOptions, credentials: Credentials): Promise<Connection> {
  const dispatcher = createDispatcher({ insecure: options.insecure, ...(await readCaCert(options.caCert)) });
  const tokensFor = (actions: TokenActions): GitLabTokenProvider => new GitLabTokenProvider({
    gitlabUrl: options.gitlabUrl, username: credentials.username, secret: credentials.secret, dispatcher, actions,
    ...(options.maxScopesPerToken === undefined ? {} : { maxScopesPerToken: options.maxScopesPerToken }),
  });
  const tokens = tokensFor(options.actions);
  return { dispatcher, tokens, registry: new RegistryClient({ baseUrl: options.registryUrl, tokens, dispatcher }), tokensFor };
}

/**
 * First Ctrl-C / SIGTERM: abort `controller` (stop taking work; requests in flight finish).
 * Second: leave at once with exit code 130. Returns a function that removes the handlers.
 */
export function onSignals(controller: AbortController, what = "requests in flight"): () => void {
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    err(`Interrupted: finishing ${what} (press Ctrl-C again to stop at once)...`);
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
