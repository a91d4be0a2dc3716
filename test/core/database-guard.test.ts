import { describe, expect, it } from "vitest";
import { type DatabaseEvidence, type DatabaseSetting, decideDatabaseGuard } from "../../src/core/database-guard.js";

const none: DatabaseEvidence = { databaseInUseLock: false, filesystemInUseLock: false };
const config = (databaseEnabled: DatabaseSetting, storageDriver = "filesystem") => ({ databaseEnabled, storageDriver });

describe("decideDatabaseGuard refuses", () => {
  it.each<[string, DatabaseEvidence, RegExp]>([
    ["database-in-use exists", { ...none, databaseInUseLock: true }, /database-in-use exists/],
    ["database-in-use exists even with filesystem-in-use", { databaseInUseLock: true, filesystemInUseLock: true }, /database-in-use exists/],
    ["database-in-use exists even when the config says false", { ...none, databaseInUseLock: true, config: config(false) }, /database-in-use/],
    ["the config enables the database", { ...none, config: config(true) }, /database\.enabled: true/],
    ["the config enables the database despite filesystem-in-use", { ...none, filesystemInUseLock: true, config: config(true) }, /database\.enabled: true/],
    ["prefer without filesystem-in-use", { ...none, config: config("prefer") }, /prefer.*no filesystem-in-use/],
    ["the live header says true", { ...none, liveHeader: true }, /Database-Enabled: true/],
    ["the live header says true despite the config and lockfile", { ...none, filesystemInUseLock: true, config: config(false), liveHeader: true }, /Database-Enabled: true/],
    ["the live header says false but the config enables the database", { ...none, config: config(true), liveHeader: false }, /database\.enabled: true/],
  ])("when %s, explaining the danger", (_, evidence, pattern) => {
    const decision = decideDatabaseGuard(evidence);
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.reason).toMatch(pattern);
    expect(decision.reason).toContain("delete");
    expect(decision.reason).toContain("tagged images");
    expect(decision.reason).toContain("online garbage collection already removes untagged manifests");
  });

  it.each<[string, DatabaseEvidence]>([
    ["s3 with filesystem-in-use", { ...none, filesystemInUseLock: true, config: config(false, "s3") }],
    ["gcs without database", { ...none, config: config(undefined, "gcs") }],
  ])("a storage driver other than the one read (%s)", (_, evidence) => {
    const decision = decideDatabaseGuard(evidence);
    expect(decision).toEqual({ ok: false, reason: expect.stringContaining("which is then not what the registry serves") });
  });

  it("a filesystem config while reading a bucket", () => {
    const decision = decideDatabaseGuard({ ...none, filesystemInUseLock: true, config: config(false), reading: "s3" });
    expect(decision).toEqual({ ok: false, reason: expect.stringContaining('uses the "filesystem" storage driver') });
  });

  it("an s3 config while reading that bucket", () => {
    expect(decideDatabaseGuard({ ...none, filesystemInUseLock: true, config: config(false, "s3"), reading: "s3" }).ok).toBe(true);
  });

  it.each<[string, DatabaseEvidence]>([
    ["nothing is known", none],
    ["the config is missing", { ...none, configProblem: "/var/opt/gitlab/registry/config.yml was not found" }],
    ["the config is unreadable", { ...none, configProblem: "permission denied reading /x/config.yml; run the tool with sudo" }],
  ])("when there is no evidence: %s, and says how to provide some", (_, evidence) => {
    const decision = decideDatabaseGuard(evidence);
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.reason).toContain("--registry-config <path>");
    expect(decision.reason).toContain("/var/opt/gitlab/registry/config.yml");
    expect(decision.reason).toContain("tagged images");
    if (evidence.configProblem) expect(decision.reason).toContain(evidence.configProblem);
  });
});

describe("decideDatabaseGuard and a lone filesystem-in-use lockfile (stale after a migration before 18.8)", () => {
  const lone: DatabaseEvidence = { ...none, filesystemInUseLock: true, configProblem: "x was not found" };

  it.each<[string, DatabaseEvidence]>([
    ["and no config", { ...none, filesystemInUseLock: true }],
    ["and a missing config", lone],
    ["and a missing config, the registry not sending the header", { ...lone, headerLater: false }],
  ])("refuses %s, and says to pass --registry-config", (_, evidence) => {
    const decision = decideDatabaseGuard(evidence);
    expect(decision).toEqual({ ok: false, reason: expect.stringContaining("--registry-config <path>") });
    if (decision.ok) return;
    expect(decision.reason).toContain("Only the lockfile docker/registry/lockfiles/filesystem-in-use");
    expect(decision.reason).toContain("before GitLab 18.8");
    expect(decision.reason).toContain("did not answer Gitlab-Container-Registry-Database-Enabled: false");
    expect(decision.reason).toContain("tagged images");
    if (evidence.configProblem) expect(decision.reason).toContain(evidence.configProblem);
  });

  it("passes only provisionally when the registry's header is asked later", () => {
    expect(decideDatabaseGuard({ ...lone, headerLater: true })).toEqual({
      ok: true, awaitsHeader: true, evidence: expect.stringContaining("registry config not used: x was not found"),
    });
  });

  it("proceeds when the registry answers false", () => {
    const decision = decideDatabaseGuard({ ...lone, liveHeader: false });
    expect(decision).toEqual({ ok: true, evidence: expect.stringContaining("Database-Enabled: false") });
    expect(decideDatabaseGuard({ ...lone, liveHeader: false, headerLater: true })).not.toHaveProperty("awaitsHeader");
  });

  it("refuses when the registry answers true, asked later or not", () => {
    for (const headerLater of [false, true]) {
      expect(decideDatabaseGuard({ ...lone, liveHeader: true, headerLater })).toEqual({ ok: false, reason: expect.stringContaining("Database-Enabled: true") });
    }
  });

  it("is no longer alone with a readable config", () => {
    const decision = decideDatabaseGuard({ ...none, filesystemInUseLock: true, config: config("prefer"), headerLater: true });
    expect(decision).toEqual({ ok: true, evidence: expect.stringContaining("filesystem-in-use exists") });
  });
});

describe("decideDatabaseGuard proceeds", () => {
  it.each<[string, DatabaseEvidence, string]>([
    ["prefer with filesystem-in-use", { ...none, filesystemInUseLock: true, config: config("prefer") }, "filesystem-in-use exists"],
    ["database.enabled false", { ...none, config: config(false) }, "database.enabled false"],
    ["database.enabled absent (older registry, no lockfiles)", { ...none, config: config(undefined) }, "database.enabled absent"],
    ["a config naming no driver", { ...none, config: { databaseEnabled: false } }, "database.enabled false"],
    ["the live header false alone", { ...none, liveHeader: false }, "Database-Enabled: false"],
    ["everything agreeing", { ...none, filesystemInUseLock: true, config: config(false), liveHeader: false }, "no docker/registry/lockfiles/database-in-use"],
  ])("with %s, and lists the evidence", (_, evidence, expected) => {
    const decision = decideDatabaseGuard(evidence);
    expect(decision).toEqual({ ok: true, evidence: expect.stringContaining(expected) });
  });
});

describe("decideDatabaseGuard over every combination", () => {
  const settings: (DatabaseSetting | "no config")[] = [true, false, "prefer", undefined, "no config"];
  const cases = [];
  for (const databaseInUseLock of [false, true])
    for (const filesystemInUseLock of [false, true])
      for (const setting of settings)
        for (const liveHeader of [undefined, false, true])
          for (const storageDriver of ["filesystem", "s3"]) cases.push({ databaseInUseLock, filesystemInUseLock, setting, liveHeader, storageDriver });

  it.each(cases)("%o follows GITLAB.md §7", ({ databaseInUseLock, filesystemInUseLock, setting, liveHeader, storageDriver }) => {
    const evidence: DatabaseEvidence = { databaseInUseLock, filesystemInUseLock };
    if (setting !== "no config") evidence.config = { databaseEnabled: setting, storageDriver };
    if (liveHeader !== undefined) evidence.liveHeader = liveHeader;

    const configSupports = setting === false || setting === undefined;
    const refused =
      databaseInUseLock ||
      liveHeader === true ||
      setting === true ||
      (setting === "prefer" && !filesystemInUseLock) ||
      (setting !== "no config" && storageDriver !== "filesystem");
    // A lone filesystem-in-use lockfile (no config) counts only provisionally, until the header is asked.
    const supported = configSupports || liveHeader === false || (filesystemInUseLock && setting !== "no config");
    const provisional = filesystemInUseLock && setting === "no config" && liveHeader === undefined;
    expect(decideDatabaseGuard(evidence).ok).toBe(!refused && supported);
    const later = decideDatabaseGuard({ ...evidence, headerLater: true });
    expect(later.ok).toBe(!refused && (supported || provisional));
    expect(later.ok && later.awaitsHeader === true).toBe(!refused && !supported && provisional);
  });
});
