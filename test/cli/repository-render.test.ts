/** The words of --delete-empty-repositories: its lines, summary rows, note, confirmation and JSON. */
import { describe, expect, it } from "vitest";
import { confirmQuestion, renderRepositoryOutcome, repositoriesJson, repositoryNotes } from "../../src/cli/repository-render.js";
import { renderSummary } from "../../src/cli/render.js";
import { emptyReport, emptyRepositoryReport, type RepositoryOutcome } from "../../src/core/report.js";
import type { RepositoryName } from "../../src/core/repository-name.js";

const repository = "group/project/old" as RepositoryName;
const line = (kind: RepositoryOutcome["kind"], detail?: string) =>
  renderRepositoryOutcome({ repository, kind, ...(detail ? { detail } : {}) });

describe("repository lines", () => {
  it("say what happened, and that GitLab finishes later or that restore cannot undo it", () => {
    expect(line("deleted")).toBe("Deleted repository group/project/old (GitLab will finish removing it)");
    expect(line("would-delete")).toBe("Would delete repository group/project/old (GitLab's record of it cannot be restored)");
    expect(line("already-removing")).toBe("Already being removed by GitLab: repository group/project/old");
    expect(line("kept", "the registry lists tag v1 in it")).toBe("Kept repository group/project/old in GitLab: the registry lists tag v1 in it");
    expect(line("failed", "403 Forbidden: …")).toBe("Could not delete repository group/project/old: 403 Forbidden: …");
  });
});

describe("the summary", () => {
  it("counts the repositories and closes with GitLab's background deletion", () => {
    const report = { ...emptyReport(false), emptyRepositories: emptyRepositoryReport() };
    report.emptyRepositories.outcomes.deleted = 2;
    report.emptyRepositories.outcomes.failed = 1;
    const lines = renderSummary(report, 0);
    expect(lines).toContain(`  ${"Repositories deleted in GitLab".padEnd(38)}2`);
    expect(lines).toContain(`  ${"  failed".padEnd(38)}1`);
    expect(lines.join("\n")).toMatch(/GitLab deletes repositories in the background: the 2 deleted above/);
    expect(lines).not.toContain("Nothing was deleted.");
  });

  it("in a dry run says how many and that GitLab's record cannot be restored", () => {
    const report = { ...emptyReport(true), emptyRepositories: emptyRepositoryReport() };
    report.emptyRepositories.outcomes["would-delete"] = 1;
    const lines = renderSummary(report, 0);
    expect(lines).toContain(`  ${"Repositories to delete in GitLab".padEnd(38)}1`);
    expect(repositoryNotes(report)).toEqual([expect.stringMatching(/restore cannot bring back/)]);
    expect(lines).toContain("Run again without -n/--dry-run to delete them.");
  });

  it("has no repository rows without the flag", () => {
    expect(renderSummary(emptyReport(false), 0).join("\n")).not.toMatch(/repositor(y|ies) .*GitLab/);
  });
});

describe("the confirmation", () => {
  it("names the repositories after the manifests, or alone", () => {
    expect(confirmQuestion({ repositories: 2, candidates: 5, tags: 0 })).toBe("Delete 5 untagged manifests in 2 repositories?");
    expect(confirmQuestion({ repositories: 2, candidates: 5, tags: 3, emptyRepositories: 1 }))
      .toBe("Delete 3 tags and 5 untagged manifests in 2 repositories, then up to 1 repository left empty in GitLab?");
    expect(confirmQuestion({ repositories: 0, candidates: 0, tags: 0, emptyRepositories: 4 })).toBe("Delete 4 repositories left empty in GitLab?");
  });
});

describe("--json", () => {
  it("has the counts and each repository, or null without the flag", () => {
    const report = emptyRepositoryReport();
    report.outcomes.deleted = 1;
    report.repositories.push({ repository, kind: "deleted", project: "group/project", gitlabId: 7 });
    expect(repositoriesJson(report)).toEqual({
      outcomes: expect.objectContaining({ deleted: 1, failed: 0 }),
      repositories: [{ repository, outcome: "deleted", project: "group/project", gitlabId: 7, detail: null }],
    });
    expect(repositoriesJson(undefined)).toBeNull();
  });
});
