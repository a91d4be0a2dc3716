/**
 * Faults in a real registry's storage: corrupt and empty link files, missing and malformed
 * manifest blobs, a symlink loop, directories whose names break the grammar. The run finishes,
 * warns naming each file, keeps whatever it cannot judge, deletes exactly the rest, and never
 * sends a request for an invalid name.
 */
import { cp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDigest, type Digest } from "../../src/core/digest.js";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { startReverseProxy, type RecordingProxy } from "../helpers/proxies.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli, type CliResult } from "../helpers/run-cli.js";
import { blobDataPath, repositoryDir, revisionLinkPath, tagCurrentLinkPath } from "../helpers/storage-tree.js";

let env: Environment;
let registry: RecordingProxy;
let result: CliResult;
let linksBefore: string[];
/** Revision links (relative, as revisionLinks lists them) the run must remove; all others stay. */
const doomed: string[] = [];
/** Files a warning must name, with a phrase of that warning. */
const warned: Array<[path: string, phrase: string]> = [];

const root = (): string => env.registry.storageRoot;
const relative = (name: string, digest: Digest): string =>
  revisionLinkPath(root(), name, digest).slice(join(root(), "docker/registry/v2/repositories").length + 1);

/** Pushes `latest` `count` times; returns [untagged..., tagged]. */
async function history(name: string, count: number, seed: number): Promise<Digest[]> {
  const pushed = await pushTagHistory(env.pushContext(), name, "latest", count, { seed });
  return pushed.map((m) => parseDigest(m.digest)!);
}

async function corrupt(path: string, content: string, phrase: string): Promise<void> {
  await writeFile(path, content);
  warned.push([path, phrase]);
}

async function seed(): Promise<void> {
  const healthy = await history("group/healthy", 3, 10);
  doomed.push(...healthy.slice(0, 2).map((d) => relative("group/healthy", d)));

  const [empty, garbage, fine] = await history("group/revision-links", 4, 20);
  await corrupt(revisionLinkPath(root(), "group/revision-links", empty!), "", "The revision link file is empty; revision");
  await corrupt(revisionLinkPath(root(), "group/revision-links", garbage!), "sha256:zzz", "does not hold a valid digest");
  doomed.push(relative("group/revision-links", fine!));
  // The tagged manifest's own revision link: the tag then names no revision, so nothing is judged.
  const taggedLink = revisionLinkPath(root(), "group/tagged-link", (await history("group/tagged-link", 3, 25)).at(-1)!);
  await corrupt(taggedLink, "sha256:", "does not hold a valid digest");

  await history("group/empty-tag", 3, 30);
  await corrupt(tagCurrentLinkPath(root(), "group/empty-tag", "latest"), "", 'Tag "latest" of group/empty-tag is unreadable: the link file is empty');
  await history("group/garbage-tag", 3, 40);
  await corrupt(tagCurrentLinkPath(root(), "group/garbage-tag", "latest"), "latest\n", 'Tag "latest" of group/garbage-tag is unreadable');

  const [missing, notJson, ok] = await history("group/blobs", 4, 50);
  await rm(blobDataPath(root(), missing!));
  warned.push([blobDataPath(root(), missing!), `Manifest ${missing} of group/blobs: its manifest blob`]);
  await corrupt(blobDataPath(root(), notJson!), "<html>not a manifest</html>", "could not be parsed");
  doomed.push(relative("group/blobs", ok!));

  const tagged = (await history("group/tagged-blob", 3, 60)).at(-1)!;
  await rm(blobDataPath(root(), tagged));
  warned.push([blobDataPath(root(), tagged), `Manifest ${tagged} of group/tagged-blob: its manifest blob`]);

  const loop = join(repositoryDir(root(), "group"), "loop");
  await symlink("..", loop);
  warned.push([loop, "symbolic link; it was not followed"]);
  for (const bad of ["group/UPPER", "group/evil%2f..", "group/has space"]) {
    await mkdir(join(repositoryDir(root(), bad), ".."), { recursive: true });
    await cp(repositoryDir(root(), "group/healthy"), repositoryDir(root(), bad), { recursive: true });
    warned.push([repositoryDir(root(), bad), `"${bad}" is not a valid repository name`]);
  }
}

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/healthy", members: {} }] });
  // Every project the test pushes to must exist for the stand-in to grant push.
  for (const name of ["revision-links", "tagged-link", "empty-tag", "garbage-tag", "blobs", "tagged-blob"]) {
    env.gitlab.addProject({ path: `group/${name}`, members: {} });
  }
  await seed();
  linksBefore = await revisionLinks(root());
  registry = await startReverseProxy(env.registry.url);
  env.gitlab.resetStats();
  const args = environmentArgs(env, await credentialsFile(env, ROOT));
  args[args.indexOf("-r") + 1] = registry.url;
  result = await runCli([...args, "--min-age", "0"]);
});

afterAll(async () => {
  await registry?.close();
  await env?.stop();
});

describe("a real run over a damaged storage", () => {
  it("finishes with exit 0 and its summary", () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Summary/m);
    expect(result.stderr).not.toMatch(/^(Error|Unexpected error)/m);
  });

  it("warns about every damaged file by its path", () => {
    const warnings = result.stderr.split("\n").filter((line) => line.startsWith("Warning: "));
    for (const [path, phrase] of warned) {
      expect(warnings.find((line) => line.startsWith(`Warning: ${path}: `) && line.includes(phrase)), `${path}\n${result.stderr}`)
        .toBeDefined();
    }
  });

  it("deletes exactly the healthy candidates and keeps every revision it could not judge", async () => {
    const after = await revisionLinks(root());
    expect(after).toEqual(linksBefore.filter((link) => !doomed.includes(link)));
    expect(result.stdout.match(/^Deleted image /gm)).toHaveLength(doomed.length);
  });

  it("keeps whole repositories whose tag link or tagged manifest is unreadable", () => {
    for (const name of ["group/empty-tag", "group/garbage-tag", "group/tagged-blob", "group/tagged-link"]) {
      expect(result.stdout).not.toContain(`in repository ${name}\n`);
    }
    expect(result.stdout).toMatch(/in a repository unsafe to judge\s+10\b/);
  });

  it("never builds a request or a token scope from an invalid name", () => {
    const requested = [...registry.log.map((r) => r.target), ...env.gitlab.scopeLog.flat()];
    expect(requested.length).toBeGreaterThan(0);
    for (const target of requested) expect(target).not.toMatch(/UPPER|evil|has(%20| )space|loop/);
  });
});
