/** The exit code a finished run's report leads to (errors map through CleanupError.exitCode). */
import { ExitCode, type ExitCodeValue } from "../core/errors.js";
import type { CleanupReport } from "../core/report.js";

export function exitCodeFor(report: CleanupReport): ExitCodeValue {
  if (report.interrupted) return ExitCode.interrupted;
  if (report.stoppedBecause !== undefined || report.outcomes.failed > 0) return ExitCode.deletionsFailed;
  if (report.skipped.some((s) => s.reason === "error")) return ExitCode.deletionsFailed;
  if (noPermissionAnywhere(report)) return ExitCode.auth;
  return ExitCode.ok;
}

/**
 * Candidates existed, every repository holding them was refused for lack of permission or as an
 * orphan, and at least one for lack of permission: the credentials cannot clean anything.
 */
function noPermissionAnywhere(report: CleanupReport): boolean {
  if (report.candidates === 0 || report.cancelled) return false;
  const refused = report.skipped.filter((s) => s.reason === "no-permission" || s.reason === "orphan");
  const refusedCandidates = refused.reduce((n, s) => n + s.candidates, 0);
  return refused.some((s) => s.reason === "no-permission") && refusedCandidates === report.candidates;
}
