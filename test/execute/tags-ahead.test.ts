/**
 * A dry run's tag lists asked for during the scan: listed once the token is granted, at most
 * `concurrency` at a time, and handed to the cross-check failing as listTags would.
 */
import { describe, expect, it } from "vitest";
import type { RepositoryName } from "../../src/core/repository-name.js";
import { TagListsAhead } from "../../src/execute/tags-ahead.js";
import { repoName } from "../helpers/plan-builders.js";

class FakeRegistry {
  calls: RepositoryName[] = [];
  inFlight = 0;
  mostInFlight = 0;
  constructor(private readonly tags: Map<string, string[] | Error>) {}
  async listTags(name: RepositoryName): Promise<string[]> {
    this.calls.push(name);
    this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.inFlight--;
    const answer = this.tags.get(name) ?? [];
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

const tick = (ms = 30): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("TagListsAhead", () => {
  const granted = { authorizeAhead: async (name: RepositoryName) => !name.includes("refused") };

  it("lists a repository's tags once its token is granted, and hands them over once", async () => {
    const app = repoName("group/app");
    const registry = new FakeRegistry(new Map([[app, ["latest", "v1"]]]));
    const ahead = new TagListsAhead(granted, registry, 4);
    ahead.add(app);
    await tick();
    expect(registry.calls).toEqual([app]);
    expect(await ahead.take(app)).toEqual(["latest", "v1"]);
    // Taken: a second look lists again.
    expect(await ahead.take(app)).toEqual(["latest", "v1"]);
    expect(registry.calls).toEqual([app, app]);
  });

  it("keeps to its concurrency", async () => {
    const registry = new FakeRegistry(new Map());
    const ahead = new TagListsAhead(granted, registry, 2);
    const names = Array.from({ length: 8 }, (_, i) => repoName(`group/app-${i}`));
    for (const name of names) ahead.add(name);
    await Promise.all(names.map((name) => ahead.take(name)));
    expect(registry.calls).toHaveLength(8);
    expect(registry.mostInFlight).toBe(2);
  });

  it("does not list where the token was refused, and lists at the cross-check instead", async () => {
    const refused = repoName("group/refused-app");
    const registry = new FakeRegistry(new Map([[refused, ["x"]]]));
    const ahead = new TagListsAhead(granted, registry, 4);
    ahead.add(refused);
    await tick();
    expect(registry.calls).toEqual([]);
    expect(await ahead.take(refused)).toEqual(["x"]);
  });

  it("hands a failed listing to the cross-check as the failure it was", async () => {
    const broken = repoName("group/broken");
    const failure = new Error("503 from the registry");
    const ahead = new TagListsAhead(granted, new FakeRegistry(new Map([[broken, failure]])), 4);
    ahead.add(broken);
    await tick();
    await expect(ahead.take(broken)).rejects.toBe(failure);
  });

  it("lists at the cross-check when the token could not be had ahead", async () => {
    const app = repoName("group/app");
    const registry = new FakeRegistry(new Map([[app, ["v1"]]]));
    const ahead = new TagListsAhead({ authorizeAhead: async () => Promise.reject(new Error("GitLab answered 503")) }, registry, 4);
    ahead.add(app);
    await tick();
    expect(await ahead.take(app)).toEqual(["v1"]);
    expect(registry.calls).toEqual([app]);
  });

  it("tells when GitLab answered for a name asked ahead, failed or not, and at once for a name never asked", async () => {
    let answer: (granted: boolean) => void = () => {};
    let refuse: (error: Error) => void = () => {};
    const asked = new Map<string, Promise<boolean>>([
      ["group/app", new Promise<boolean>((resolve) => (answer = resolve))],
      ["group/busy", new Promise<boolean>((_, reject) => (refuse = reject))],
    ]);
    const ahead = new TagListsAhead({ authorizeAhead: (name) => asked.get(name)! }, new FakeRegistry(new Map()), 4);
    ahead.add(repoName("group/app"));
    ahead.add(repoName("group/busy"));
    const settled: string[] = [];
    void ahead.granted(repoName("group/app")).then(() => settled.push("app"));
    void ahead.granted(repoName("group/busy")).then(() => settled.push("busy"));
    await ahead.granted(repoName("group/never-asked"));
    await tick();
    expect(settled).toEqual([]);
    answer(true);
    refuse(new Error("GitLab answered 503"));
    await tick();
    expect(settled.sort()).toEqual(["app", "busy"]);
  });
});
