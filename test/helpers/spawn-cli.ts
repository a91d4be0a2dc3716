/**
 * Starts the built CLI and hands back the running process, for tests that act while it works:
 * send it a signal, restart the registry under it, push while it deletes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { CLI, type CliResult } from "./run-cli.js";

/** A CLI process in flight. */
export interface RunningCli {
  child: ChildProcess;
  /** Standard output so far. */
  stdout(): string;
  stderr(): string;
  /** When each complete stdout line arrived (performance.now() ms). */
  timeline: Array<{ at: number; line: string }>;
  /** Resolves when `predicate(stdout)` holds (checked on every chunk); rejects if the process exits first. */
  waitForOutput(predicate: (stdout: string) => boolean): Promise<void>;
  /** Resolves on exit, with the exit code (128 + signal number when killed by a signal). */
  result: Promise<CliResult>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Spawns `node dist/cli/main.js ...args` with a minimal environment and stdin closed. */
export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.end();
  let stdout = "";
  let stderr = "";
  let partial = "";
  const timeline: Array<{ at: number; line: string }> = [];
  const watchers: Array<() => void> = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    const at = performance.now();
    for (const line of lines) timeline.push({ at, line });
    for (const watcher of [...watchers]) watcher();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk));
  const result = new Promise<CliResult>((resolve) => {
    child.once("close", (code, signal) => {
      resolve({ code: code ?? 128 + (SIGNALS[signal ?? ""] ?? 0), stdout, stderr });
    });
  });
  const waitForOutput = (predicate: (text: string) => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(stdout)) return;
        watchers.splice(watchers.indexOf(check), 1);
        resolve();
      };
      watchers.push(check);
      check();
      void result.then(() => reject(new Error(`the CLI exited before the awaited output:\n${stdout}\n${stderr}`)));
    });
  return { child, stdout: () => stdout, stderr: () => stderr, timeline, waitForOutput, result };
}

/** How many stdout lines start with `prefix`. */
export function countLines(text: string, prefix: string): number {
  return text.split("\n").filter((line) => line.startsWith(prefix)).length;
}
