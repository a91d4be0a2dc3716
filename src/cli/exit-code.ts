/** The exit code a finished run's report leads to (errors map through CleanupError.exitCode). */
import { ExitCode, type ExitCodeValue } from "../core/errors.js";
import type { CleanupReport } from "../core/report.js";

export function exitCodeFor(report: CleanupReport): ExitCodeValue {
  if (report.interrupted) return ExitCode.interrupted;
  if (report.stoppedBySafetyCheck) return ExitCode.refused;
  if (report.stoppedBecause !== undefined || report.outcomes.failed > 0) return ExitCode.deletionsFailed;
  if ((report.emptyRepositories?.outcomes.failed ?? 0) > 0) return ExitCode.deletionsFailed;
  // A deleted manifest a push needed is still gone: restore it from the journal before garbage collection.
  if (report.repairs.some((r) => r.kind !== "restored")) return ExitCode.deletionsFailed;
  if (report.skipped.some((s) => s.reason === "error")) return ExitCode.deletionsFailed;
  // Repositories or revisions left unread (permission denied) were not cleaned: not done, not ok.
  if ((report.unreadDirectories ?? 0) > 0) return ExitCode.deletionsFailed;
  if (noPermissionAnywhere(report)) return ExitCode.auth;
  if (crossCheckRefusedAll(report)) return ExitCode.refused;
  return ExitCode.ok;
}

/**
 * Every repository that could have been cleaned failed the cross-check against the live registry:
 * -p is almost certainly not this registry's storage. One mismatch among many is a warning only.
 */
export function crossCheckRefusedAll(report: CleanupReport): boolean {
  const mismatched = report.skipped.filter((s) => s.reason === "tags-mismatch").length;
  const handled = report.outcomes.deleted + report.outcomes["would-delete"] + report.outcomes["already-gone"] +
    report.outcomes.protected + report.outcomes.failed + report.outcomes["kept-on-recheck"];
  return mismatched > 0 && handled === 0;
}

/**
 * Candidates existed, every repository holding them was refused for lack of permission or as an
 * orphan, and at least one for lack of permission: the credentials cannot clean anything. Never
 * for a user GitLab treats as an administrator: GitLab grants them delete wherever a project
 * with a container registry exists, so other credentials could not do more (what is left are
 * orphans, or projects with the registry disabled; a steady state, exit 0).
 */
export function noPermissionAnywhere(report: CleanupReport): boolean {
  if (report.candidates === 0 || report.cancelled || report.administrator === true) return false;
  const refused = report.skipped.filter((s) => s.reason === "no-permission" || s.reason === "orphan");
  const refusedCandidates = refused.reduce((n, s) => n + s.candidates, 0);
  return refused.some((s) => s.reason === "no-permission") && refusedCandidates === report.candidates;
}
