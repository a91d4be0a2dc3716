/**
 * GitLab restarting at the start of a cron run (an upgrade, `gitlab-ctl reconfigure`): Puma answers
 * 500 with an HTML page for a few seconds. The run repeats its GETs to GitLab and goes on; a 500
 * that lasts is one line with the status, never the page; a 401 is still never repeated.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let creds: string;

beforeAll(async () => {
  env = await startEnvironment({ projects: [{ path: "group/project" }] });
  creds = await credentialsFile(env, ROOT);
  await pushTagHistory(env.pushContext(), "group/project", "latest", 3, { seed: 11 });
});
afterAll(async () => {
  await env?.stop();
});
beforeEach(() => {
  env.gitlab.failNext("/jwt/auth", 0);
  env.gitlab.failNext("/api/v4/user", 0);
  env.gitlab.faultLog.length = 0;
  env.gitlab.resetStats();
});

describe("GitLab answering 500 while it restarts", () => {
  it("/jwt/auth 500 twice: repeated, and the run goes on (exit 0)", async () => {
    env.gitlab.failNext("/jwt/auth", 2);
    const result = await runCli([...environmentArgs(env, creds), "--min-age", "0", "-n"]);
    expect(result.stderr).not.toContain("500");
    expect(result.stdout).toContain("Would delete image");
    expect(result.code).toBe(0);
    expect(env.gitlab.faultLog).toEqual(["/jwt/auth", "/jwt/auth"]);
  });

  it("/api/v4/user 500 that lasts: exit 1 with the status and one line, not the HTML page", async () => {
    env.gitlab.failNext("/api/v4/user", 100);
    const result = await runCli([...environmentArgs(env, creds), "--min-age", "0", "-n"]);
    expect(result.stderr).toContain(
      `reading the current user at ${env.gitlab.url}/api/v4: 500 Internal Server Error (an HTML page: "We're sorry, but something went wrong (500)")`,
    );
    expect(result.stderr).not.toContain("<");
    expect(result.code).toBe(1);
    expect(env.gitlab.faultLog).toHaveLength(5);
  });

  it("a wrong password (401) is still asked once, exit 4", async () => {
    const wrong = join(env.dir, "wrong-credentials");
    await writeFile(wrong, "root\nnot-the-password\n", { mode: 0o600 });
    const result = await runCli([...environmentArgs(env, wrong), "--min-age", "0", "-n"]);
    expect(result.code).toBe(4);
    expect(env.gitlab.authRequests).toBe(1);
  });
});
