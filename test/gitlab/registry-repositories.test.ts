/**
 * GitLabRestApi's container repositories (`GET /projects/:id/registry/repositories`, `DELETE
 * …/:repository_id`, GITLAB.md §13) against the GitLab stand-in, which answers as GitLab's API
 * does: paginated lists, 202 and a record that goes a moment later, 404 for a project the token
 * cannot see, 403 below Maintainer and for a protected repository path.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CleanupError, UsageError } from "../../src/core/errors.js";
import { GitLabRestApi } from "../../src/gitlab/api.js";
import { createDispatcher } from "../../src/registry/http.js";
import { startGitlabStandin, type GitlabStandin } from "../helpers/gitlab-standin.js";
import { createPki } from "../helpers/pki.js";
import { fetchToken } from "../helpers/registry-http.js";

let dir: string;
let gitlab: GitlabStandin;
let dispatcher: Dispatcher;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gitlab-repositories-"));
  dispatcher = createDispatcher();
  gitlab = await startGitlabStandin({
    pki: await createPki(dir),
    users: [
      { username: "root", password: "root-password", admin: true, tokens: [{ token: "root-api", scopes: ["api"] }] },
      {
        username: "maint", password: "maint-password",
        tokens: [{ token: "maint-api", scopes: ["api"] }, { token: "maint-read", scopes: ["read_api"] }],
      },
      { username: "dev", password: "dev-password", tokens: [{ token: "dev-api", scopes: ["api"] }] },
      { username: "guest", password: "guest-password", tokens: [{ token: "guest-api", scopes: ["api"] }] },
    ],
    projects: [
      { path: "group/project", members: { maint: "maintainer", dev: "developer", guest: "guest" } },
      { path: "group/many", members: { maint: "maintainer" } },
      { path: "secret/project", members: {} },
    ],
  });
  for (const path of ["group/project", "group/project/old", "group/project/release/app", "secret/project/x"]) gitlab.addRepository(path);
  for (let i = 0; i < 150; i++) gitlab.addRepository(`group/many/image-${String(i).padStart(3, "0")}`);
  gitlab.protectRepositories("group/project", [{ repositoryPathPattern: "group/project/release/*", minimumAccessLevelForDelete: "owner" }]);
});

afterAll(async () => {
  await gitlab?.close();
  await dispatcher?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => gitlab.resetStats());

const api = (token: string) => new GitLabRestApi({ gitlabUrl: new URL(gitlab.url), token, dispatcher });
const idOf = (path: string) => gitlab.repositoryRecords().find((record) => record.path === path)!.id;

describe("registryRepositories", () => {
  it("lists a project's repositories with their ids, paths and status", async () => {
    const records = await api("maint-api").registryRepositories("group/project");
    expect(records).toEqual([
      { id: idOf("group/project"), path: "group/project", status: null },
      { id: idOf("group/project/old"), path: "group/project/old", status: null },
      { id: idOf("group/project/release/app"), path: "group/project/release/app", status: null },
    ]);
  });

  it("reads every page (100 per page)", async () => {
    const records = await api("maint-api").registryRepositories("group/many");
    expect(records).toHaveLength(150);
    expect(new Set(records!.map((record) => record.path)).size).toBe(150);
    expect(gitlab.apiLog.filter((r) => r.endpoint === "registry-repositories")).toHaveLength(2);
  });

  it("is undefined for a project the token cannot see, or whose registry it may not read", async () => {
    expect(await api("maint-api").registryRepositories("group/nothing")).toBeUndefined();
    expect(await api("maint-api").registryRepositories("secret/project")).toBeUndefined();
    expect(await api("guest-api").registryRepositories("group/project")).toBeUndefined();
    expect(await api("root-api").registryRepositories("secret/project")).toHaveLength(1);
  });

  it("refuses a password as the REST API does (exit 2, says to use a token)", async () => {
    const error = await api("maint-password").registryRepositories("group/project").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/personal access tokens only/);
  });

  it("learns of a repository when GitLab grants push there, as GitLab records it", async () => {
    await fetchToken(gitlab.realm, { username: "root", secret: "root-password" }, ["repository:group/project/pushed:pull,push"]);
    expect((await api("root-api").registryRepositories("group/project"))!.map((record) => record.path)).toContain("group/project/pushed");
  });
});

describe("deleteRegistryRepository", () => {
  it("is accepted (202); GitLab lists it as delete_scheduled until its worker removed the record", async () => {
    const path = "group/many/image-000";
    const id = idOf(path);
    expect(await api("maint-api").deleteRegistryRepository("group/many", id)).toBe("accepted");
    const deletes = gitlab.apiLog.filter((r) => r.endpoint === "registry-repository");
    expect(deletes).toEqual([expect.objectContaining({ method: "DELETE", project: "group/many", repositoryId: id, status: 202, username: "maint" })]);
    const listed = await api("maint-api").registryRepositories("group/many");
    expect(listed!.find((record) => record.id === id)?.status).toBe("delete_scheduled");
    await sleep(120);
    expect(gitlab.repositoryRecords().some((record) => record.path === path)).toBe(false);
    expect(await api("maint-api").deleteRegistryRepository("group/many", id)).toBe("gone");
  });

  it("refuses a Developer: deleting needs Maintainer", async () => {
    const error = await api("dev-api").deleteRegistryRepository("group/project", idOf("group/project/old")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CleanupError);
    expect((error as Error).message).toMatch(/403 Forbidden: deleting a repository needs the Maintainer role or higher in project group\/project/);
    expect(gitlab.repositoryRecords().find((record) => record.path === "group/project/old")?.status).toBeNull();
  });

  it("refuses a token with read_api only", async () => {
    const error = await api("maint-read").deleteRegistryRepository("group/project", idOf("group/project/old")).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/insufficient_scope: deleting a repository needs a token with the `api` scope/);
  });

  it("refuses a protected repository path below the rule's level; an administrator may", async () => {
    const id = idOf("group/project/release/app");
    const error = await api("maint-api").deleteRegistryRepository("group/project", id).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/Deleting protected container repository forbidden.*protection rule of project group\/project/);
    expect(await api("root-api").deleteRegistryRepository("group/project", id)).toBe("accepted");
  });

  it("never leaks the token in its messages", async () => {
    const error = await api("dev-api").deleteRegistryRepository("group/project", idOf("group/project/old")).catch((e: unknown) => e);
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain("dev-api");
  });
});
