/** The exit code a finished run's report leads to: who is refused where, and whether other credentials could do more. */
import { describe, expect, it } from "vitest";
import { exitCodeFor, noPermissionAnywhere } from "../../src/cli/exit-code.js";
import { emptyReport, type CleanupReport, type SkipReason } from "../../src/core/report.js";
import type { RepositoryName } from "../../src/core/repository-name.js";

function report(skips: Array<[SkipReason, number]>, extra: Partial<CleanupReport> = {}): CleanupReport {
  const r = emptyReport(true);
  r.skipped = skips.map(([reason, candidates], i) => ({ name: `r/${i}` as RepositoryName, reason, detail: "", candidates, bytes: 0 }));
  r.candidates = skips.reduce((n, [, c]) => n + c, 0) + (extra.outcomes?.["would-delete"] ?? 0);
  return { ...r, ...extra };
}

describe("exit code 4: the credentials can clean nothing", () => {
  it("when every candidate is refused and one repository for lack of permission, the user not known to be an admin", () => {
    expect(exitCodeFor(report([["no-permission", 3]]))).toBe(4);
    expect(exitCodeFor(report([["no-permission", 3], ["orphan", 2]], { administrator: false }))).toBe(4);
  });

  it("never for an administrator: what is left are orphans or projects with the registry disabled (steady state)", () => {
    expect(exitCodeFor(report([["orphan", 5]], { administrator: true }))).toBe(0);
    expect(exitCodeFor(report([["no-permission", 1], ["orphan", 5]], { administrator: true }))).toBe(0);
  });

  it("not when only orphans are left, whoever asks", () => {
    expect(noPermissionAnywhere(report([["orphan", 5]]))).toBe(false);
  });

  it("not when something else could be deleted, nor with nothing to delete, nor after a cancel", () => {
    const outcomes = { ...emptyReport(true).outcomes, "would-delete": 2 };
    expect(exitCodeFor(report([["no-permission", 3]], { outcomes }))).toBe(0);
    expect(exitCodeFor(report([]))).toBe(0);
    expect(exitCodeFor(report([["no-permission", 3]], { cancelled: true }))).toBe(0);
  });

  it("loses to a failure and to a safety stop", () => {
    expect(exitCodeFor(report([["no-permission", 3], ["error", 1]]))).toBe(1);
    expect(exitCodeFor(report([["no-permission", 3]], { stoppedBySafetyCheck: true }))).toBe(3);
  });
});

describe("exit code 1: directories of the storage left unread", () => {
  it("when a repository or its revisions could not be listed (permission denied), even with the rest done", () => {
    const outcomes = { ...emptyReport(false).outcomes, deleted: 2 };
    expect(exitCodeFor(report([], { outcomes, warnings: 1, unreadDirectories: 1 }))).toBe(1);
    expect(exitCodeFor(report([], { outcomes, warnings: 3 }))).toBe(0);
  });

  it("before exit 4, after an interrupt", () => {
    expect(exitCodeFor(report([["no-permission", 3]], { unreadDirectories: 1 }))).toBe(1);
    expect(exitCodeFor(report([], { unreadDirectories: 1, interrupted: true }))).toBe(130);
  });
});
