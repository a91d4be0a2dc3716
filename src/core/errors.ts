/**
 * The few error classes the tool raises, each with the exit code it leads to.
 * Only cli/main.ts turns them into an exit.
 */

/** Exit codes: part of the interface scripts rely on. */
export const ExitCode = {
  /** Done: also when there was nothing to delete, or repositories were only reported. */
  ok: 0,
  /** Some deletions failed. */
  deletionsFailed: 1,
  /** Usage or input error. */
  usage: 2,
  /** Refused by a safety check. */
  refused: 3,
  /** Authentication failed, or no permission to delete in any repository. */
  auth: 4,
  /** Interrupted (Ctrl-C / SIGTERM). */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: a message for people (what happened, to what, what to do next) and an exit code. */
export class CleanupError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, bad files, bad input: nothing was done. Exit 2. */
export class UsageError extends CleanupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** A safety check refused to go on (metadata database, wrong storage driver…). Exit 3. */
export class SafetyRefusal extends CleanupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.refused, options);
  }
}

/** GitLab refused the credentials, or they may delete nowhere. Exit 4. Never retried. */
export class AuthError extends CleanupError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.auth, options);
  }
}
