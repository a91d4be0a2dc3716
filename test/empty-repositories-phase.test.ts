/**
 * --delete-empty-repositories, the phase, in process: runCleanup over a storage tree with doubles
 * of the registry (its DELETE removes the revision link, as the registry does), the token
 * provider and GitLab's repository records. What is sent to GitLab, in which order with the
 * journal, and every reason nothing is sent.
 */
import { unlink } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCleanup, type CleanupEvents } from "../src/cleanup.js";
import type { Digest } from "../src/core/digest.js";
import type { CleanupReport, RepositoryOutcome } from "../src/core/report.js";
import type { RepositoryName } from "../src/core/repository-name.js";
import type { JournalRecord, JournalWriter, RepositoryJournalRecord } from "../src/execute/journal.js";
import type { RegistryRepositories, RegistryRepositoryRecord, TokenProvider } from "../src/gitlab/ports.js";
import type { RegistryApi } from "../src/registry/ports.js";
import { RegistryError } from "../src/registry/registry-error.js";
import { FilesystemStorageReader } from "../src/storage/filesystem-reader.js";
import { exitCodeFor } from "../src/cli/exit-code.js";
import { createStorageTree, imageManifest, revisionLinkPath, type StorageTree } from "./helpers/storage-tree.js";

const OLD = Date.now() - 30 * 86_400_000;

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

/** What the doubles saw, in order: `DELETE manifest …`, `journal …`, `DELETE repository …`. */
interface World {
  log: string[];
  /** Live tags per repository (what tags/list answers); default none (404 NAME_UNKNOWN). */
  liveTags: Map<string, string[]>;
  /** GitLab's records per project path; a path not here is no project (404). */
  records: Map<string, RegistryRepositoryRecord[]>;
  /** Repositories whose registry token lacks delete. */
  denied: Set<string>;
  /** Called when GitLab's list is read: lets a test push something "during the run". */
  onList?: () => Promise<void>;
  /** Thrown by the repository DELETE. */
  refuse?: Error;
  journalFails?: boolean;
}

function world(): World {
  return { log: [], liveTags: new Map(), records: new Map(), denied: new Set() };
}

function doubles(w: World) {
  const tokens: TokenProvider = {
    verifyCredentials: async () => {},
    authorize: async (names) => new Map(names.map((name) => [name, !w.denied.has(name)])),
    tokenFor: () => Promise.reject(new Error("no token here")),
    requestCount: 0,
  };
  const refuse = (): Promise<never> => Promise.reject(new Error("not in this test"));
  const registry: RegistryApi = {
    ping: async () => ({}),
    listTags: async (name) => {
      const tags = w.liveTags.get(name);
      if (tags) return tags;
      throw new RegistryError({ status: 404, code: "NAME_UNKNOWN", message: "repository name not known to registry", operation: "listing tags" });
    },
    deleteManifest: async (name: RepositoryName, digest: Digest) => {
      w.log.push(`DELETE manifest ${name}@${digest.slice(7, 15)}`);
      await unlink(revisionLinkPath(tree.root, name, digest));
      return { kind: "deleted" };
    },
    getManifest: refuse,
    putManifest: refuse,
  };
  const registryRepositories: RegistryRepositories = {
    registryRepositories: async (project) => {
      w.log.push(`GET repositories ${project}`);
      await w.onList?.();
      return w.records.get(project);
    },
    deleteRegistryRepository: async (project, id) => {
      w.log.push(`DELETE repository ${project} ${id}`);
      if (w.refuse) throw w.refuse;
      return "accepted";
    },
  };
  const records: Array<JournalRecord | RepositoryJournalRecord> = [];
  const journal: JournalWriter = {
    path: "/journal.jsonl",
    get records() {
      return records.length;
    },
    append: async (record) => {
      if (w.journalFails) throw new Error("ENOSPC: no space left on device");
      records.push(record);
      w.log.push("deletedRepository" in record ? `journal repository ${record.repository}` : `journal manifest ${record.repository}`);
    },
    close: async () => {},
  };
  return { tokens, registry, registryRepositories, journal, records };
}

async function cleanup(w: World, options: { dryRun?: boolean; events?: CleanupEvents; minAgeMs?: number } = {}) {
  const d = doubles(w);
  const outcomes: RepositoryOutcome[] = [];
  const report: CleanupReport = await runCleanup(
    {
      storage: new FilesystemStorageReader(tree.root), tokens: d.tokens, registry: d.registry, preflight: async () => {},
      now: Date.now, runId: "run-1", registryRepositories: d.registryRepositories, openJournal: async () => d.journal,
    },
    { dryRun: options.dryRun ?? false, minAgeMs: options.minAgeMs ?? 86_400_000, concurrency: 2, deleteEmptyRepositories: true },
    { ...options.events, repositoryOutcome: (o) => void outcomes.push(o) },
  );
  return { report, outcomes, journal: d.records };
}

const record = (id: number, path: string, status: string | null = null): RegistryRepositoryRecord => ({ id, path, status });

describe("runCleanup with deleteEmptyRepositories", () => {
  it("deletes a repository in GitLab after its untagged manifests, journaled first", async () => {
    await tree.push("group/project/old", imageManifest("a"), { linkedAt: OLD });
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old"), record(8, "group/project")]);
    const { report, outcomes, journal } = await cleanup(w);
    expect(w.log).toEqual([
      "journal manifest group/project/old", expect.stringMatching(/^DELETE manifest group\/project\/old@/),
      "GET repositories group/project/old", "GET repositories group/project",
      "journal repository group/project/old", "DELETE repository group/project 7",
    ]);
    expect(outcomes).toEqual([{ repository: "group/project/old", kind: "deleted", project: "group/project", gitlabId: 7 }]);
    expect(report.emptyRepositories?.outcomes.deleted).toBe(1);
    expect(journal.at(-1)).toEqual({
      runId: "run-1", time: expect.any(String), repository: "group/project/old", deletedRepository: true, project: "group/project", gitlabId: 7,
    });
    expect(report.journalPath).toBe("/journal.jsonl");
    expect(exitCodeFor(report)).toBe(0);
  });

  it("in a dry run lists it and sends nothing", async () => {
    await tree.push("group/project/old", imageManifest("a"), { linkedAt: OLD });
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    const { outcomes, journal } = await cleanup(w, { dryRun: true });
    expect(outcomes.map((o) => o.kind)).toEqual(["would-delete"]);
    expect(w.log.filter((line) => line.startsWith("DELETE") || line.startsWith("journal"))).toEqual([]);
    expect(journal).toEqual([]);
  });

  it("never for a repository with a tag, or with a young manifest", async () => {
    await tree.push("group/project/tagged", imageManifest("t"), { linkedAt: OLD, tags: ["v1"] });
    await tree.push("group/project/young", imageManifest("y"));
    const w = world();
    w.liveTags.set("group/project/tagged", ["v1"]);
    w.records.set("group/project", [record(1, "group/project/tagged"), record(2, "group/project/young")]);
    const { report, outcomes } = await cleanup(w);
    expect(outcomes).toEqual([]);
    expect(w.log).toEqual([]);
    expect(report.emptyRepositories?.outcomes).toMatchObject({ deleted: 0, kept: 0 });
  });

  it("deletes one that was empty already; one GitLab no longer records, or is deleting, is left alone", async () => {
    for (const name of ["group/project/done", "group/project/gone", "group/project/pending"]) await tree.createRepository(name);
    const w = world();
    w.records.set("group/project", [record(3, "group/project/done"), record(5, "group/project/pending", "delete_scheduled")]);
    const { report } = await cleanup(w);
    // Outcomes arrive as repositories finish; the report has them in name order.
    expect(report.emptyRepositories!.repositories.map((o) => [o.repository, o.kind])).toEqual([
      ["group/project/done", "deleted"], ["group/project/gone", "not-in-gitlab"], ["group/project/pending", "already-removing"],
    ]);
    // Each project's list is read once for all its repositories.
    expect(w.log.filter((line) => line === "GET repositories group/project")).toHaveLength(1);
    expect(w.log.filter((line) => line.startsWith("DELETE repository"))).toEqual(["DELETE repository group/project 3"]);
  });

  it("never where the registry token lacks delete (a role below Maintainer, or an orphan)", async () => {
    await tree.createRepository("group/project/old");
    const w = world();
    w.denied.add("group/project/old");
    w.records.set("group/project", [record(7, "group/project/old")]);
    const { outcomes } = await cleanup(w);
    expect(outcomes.map((o) => o.kind)).toEqual(["no-permission"]);
    expect(w.log).toEqual([]);
  });

  it("never when the live registry lists a tag the storage does not have (-p elsewhere, a push)", async () => {
    await tree.createRepository("group/project/old");
    const w = world();
    w.liveTags.set("group/project/old", ["v9"]);
    w.records.set("group/project", [record(7, "group/project/old")]);
    const { outcomes } = await cleanup(w);
    expect(outcomes).toEqual([expect.objectContaining({ kind: "kept", detail: expect.stringContaining("tag v9") })]);
    expect(w.log.some((line) => line.startsWith("DELETE repository"))).toBe(false);
  });

  it("never when a manifest was pushed into it since the scan", async () => {
    await tree.push("group/project/old", imageManifest("a"), { linkedAt: OLD });
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    w.onList = async () => void (await tree.push("group/project/old", imageManifest("pushed")));
    const { outcomes } = await cleanup(w);
    expect(outcomes).toEqual([expect.objectContaining({ kind: "kept", detail: expect.stringContaining("1 manifest") })]);
    expect(w.log.some((line) => line.startsWith("DELETE repository"))).toBe(false);
  });

  it("never when a manifest delete failed", async () => {
    await tree.push("group/project/old", imageManifest("a"), { linkedAt: OLD });
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    const d = doubles(w);
    d.registry.deleteManifest = async () => {
      throw new RegistryError({ status: 403, code: "DENIED", message: "no", operation: "deleting" });
    };
    const report = await runCleanup(
      { storage: new FilesystemStorageReader(tree.root), tokens: d.tokens, registry: d.registry, preflight: async () => {},
        now: Date.now, runId: "r", registryRepositories: d.registryRepositories, openJournal: async () => d.journal },
      { dryRun: false, minAgeMs: 0, concurrency: 1, deleteEmptyRepositories: true },
    );
    expect(report.outcomes.failed).toBe(1);
    expect(report.emptyRepositories?.repositories).toEqual([]);
    expect(w.log.some((line) => line.startsWith("GET repositories"))).toBe(false);
  });

  it("reports GitLab's refusal as a failed repository (exit 1), and sends nothing when the journal fails", async () => {
    await tree.createRepository("group/project/old");
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    w.refuse = new Error("403 Forbidden - Deleting protected container repository forbidden.");
    const refused = await cleanup(w);
    expect(refused.outcomes).toEqual([expect.objectContaining({ kind: "failed", gitlabId: 7, detail: expect.stringContaining("protected") })]);
    expect(exitCodeFor(refused.report)).toBe(1);

    const w2 = world();
    w2.records.set("group/project", [record(7, "group/project/old")]);
    w2.journalFails = true;
    const { outcomes } = await cleanup(w2);
    expect(outcomes).toEqual([expect.objectContaining({ kind: "failed", detail: expect.stringContaining("ENOSPC") })]);
    expect(w2.log.some((line) => line.startsWith("DELETE repository"))).toBe(false);
  });

  it("asks the confirmation for the repositories when the run asked none, and stops on no", async () => {
    await tree.createRepository("group/project/old");
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    const asked: unknown[] = [];
    const { report } = await cleanup(w, { events: { confirm: async (totals) => (asked.push(totals), false) } });
    expect(asked).toEqual([{ repositories: 0, candidates: 0, tags: 0, emptyRepositories: 1 }]);
    expect(report.cancelled).toBe(true);
    expect(w.log.some((line) => line.startsWith("DELETE"))).toBe(false);
  });

  it("counts the repositories in the run's own confirmation, and does not ask twice", async () => {
    await tree.push("group/project/old", imageManifest("a"), { linkedAt: OLD });
    const w = world();
    w.records.set("group/project", [record(7, "group/project/old")]);
    const asked: unknown[] = [];
    const { outcomes } = await cleanup(w, { events: { confirm: async (totals) => (asked.push(totals), true) } });
    expect(asked).toEqual([{ repositories: 1, candidates: 1, tags: 0, emptyRepositories: 1 }]);
    expect(outcomes.map((o) => o.kind)).toEqual(["deleted"]);
  });
});
