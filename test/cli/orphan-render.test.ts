/** The orphans section of the summary: the biggest few, a count of the rest, what to do; -v lists them all. */
import { describe, expect, it } from "vitest";
import { orphansJson, renderOrphans, TOP_ORPHANS } from "../../src/cli/orphan-render.js";
import { emptyReport, type OrphanRepository } from "../../src/core/report.js";
import type { RepositoryName } from "../../src/core/repository-name.js";

const DAY = 86_400_000;

function withOrphans(count: number) {
  const report = emptyReport(true);
  report.orphans = Array.from({ length: count }, (_, i): OrphanRepository => ({
    name: `gone/app-${i}` as RepositoryName, uniqueBytes: (count - i) * 1024 * 1024, sharedBytes: 512, lastPushAt: Date.parse("2024-03-02T10:00:00Z"),
    manifests: 3, tags: 0, candidates: 3,
  }));
  return report;
}

describe("renderOrphans", () => {
  it("says nothing without orphans", () => {
    expect(renderOrphans(emptyReport(true), { verbose: false, minAgeMs: DAY })).toEqual([]);
  });

  it("lists the top ones by bytes, counts the rest, and names both ways out with the cost of -m", () => {
    const lines = renderOrphans(withOrphans(25), { verbose: false, minAgeMs: DAY });
    const text = lines.join("\n");
    expect(lines[0]).toMatch(/^Orphan repositories: 25, left untouched \(no GitLab project owns them/);
    expect(lines[1]).toMatch(/^ {2}Removing them all would free at least 325\.00 MiB /);
    expect(lines.filter((line) => line.startsWith("  gone/app-"))).toHaveLength(TOP_ORPHANS);
    expect(text).toMatch(/ {2}gone\/app-0 +25\.00 MiB +512 B +2024-03-02 +3 +0/);
    expect(text).toContain("… and 15 more (-v lists them all, --json carries them all)");
    expect(text).toContain("recreate the project at that path");
    expect(text).toContain("sudo gitlab-ctl registry-garbage-collect -m");
    expect(text).toMatch(/\(pushes of the last 1d, platform manifests of a multi-arch push in flight\)/);
    expect(renderOrphans(withOrphans(1), { verbose: false, minAgeMs: 0 }).join("\n")).toContain("(recent pushes, platform manifests");
  });

  it("lists every one with -v", () => {
    const lines = renderOrphans(withOrphans(25), { verbose: true, minAgeMs: DAY });
    expect(lines.filter((line) => line.startsWith("  gone/app-"))).toHaveLength(25);
    expect(lines.join("\n")).not.toContain("more (-v");
  });

  it("gives --json every orphan with its documented fields", () => {
    const json = orphansJson(withOrphans(12));
    expect(json).toHaveLength(12);
    expect(json[0]).toEqual({
      name: "gone/app-0", uniqueBytes: 12 * 1024 * 1024, sharedBytes: 512, lastPush: "2024-03-02T10:00:00.000Z", manifests: 3, tags: 0, candidates: 3,
    });
  });
});
