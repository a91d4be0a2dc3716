/** The process-facing side of the CLI: stdin, prompts, file modes. Kept out of the pure modules. */
import { readFile, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { CredentialInputs } from "./credentials.js";

/** Credential inputs backed by the real process. */
export function processCredentialInputs(warn: (message: string) => void): CredentialInputs {
  return {
    readFile: (path) => readFile(path, "utf8"),
    fileMode: async (path) => (await stat(path).catch(() => undefined))?.mode,
    env: process.env,
    stdinIsTTY: process.stdin.isTTY === true,
    prompt: async (message) => (await prompts()).password({ message, mask: "*" }, { output: process.stderr }),
    readStdinLine,
    warn,
  };
}

/**
 * Asks yes/no on the terminal; the default is no, so a stray Enter deletes nothing. The question
 * goes to stderr, so `--json | jq` still gets a clean document on stdout.
 */
export async function askToConfirm(message: string): Promise<boolean> {
  return (await prompts()).confirm({ message, default: false }, { output: process.stderr });
}

/** Loaded only when someone is asked: a run from cron never needs it, and it costs ~2 MB of heap. */
function prompts(): Promise<typeof import("@inquirer/prompts")> {
  return import("@inquirer/prompts");
}

/**
 * True when a person can answer: stdin and stderr are terminals. stdout does not matter: output
 * piped into jq or a file still has someone at the keyboard who must be asked.
 */
export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

function readStdinLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    let answered = false;
    lines.once("line", (line) => {
      answered = true;
      lines.close();
      process.stdin.pause();
      resolve(line);
    });
    lines.once("close", () => {
      if (!answered) resolve(undefined);
    });
  });
}
