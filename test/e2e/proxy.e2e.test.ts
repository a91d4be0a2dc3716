/**
 * HTTP_PROXY / http_proxy are honoured for GitLab and the registry alike, and NO_PROXY bypasses
 * them (undici's EnvHttpProxyAgent, registry/http.ts). The proxy is a recording CONNECT proxy.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { startForwardProxy, type RecordingProxy } from "../helpers/proxies.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, environmentArgs, runCli } from "../helpers/run-cli.js";

let env: Environment;
let proxy: RecordingProxy;
let args: string[];
let baseline: string[];

/** The hosts the proxy opened tunnels to. */
function tunnels(): Set<string> {
  return new Set(proxy.log.filter((r) => r.method === "CONNECT").map((r) => r.target));
}

beforeAll(async () => {
  env = await startEnvironment();
  proxy = await startForwardProxy();
  await pushTagHistory(env.pushContext(), "group/project", "latest", 3, { seed: 1 });
  args = [...environmentArgs(env, await credentialsFile(env, ROOT)), "--min-age", "0"];
  baseline = await revisionLinks(env.registry.storageRoot);
});

beforeEach(() => {
  proxy.log.length = 0;
});

afterAll(async () => {
  await proxy?.close();
  await env?.stop();
});

describe("proxy settings from the environment", () => {
  it.each(["HTTP_PROXY", "http_proxy"])("%s carries every request to GitLab and the registry", async (variable) => {
    const result = await runCli([...args, "-n"], { env: { [variable]: proxy.url } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^Would delete image /gm)).toHaveLength(2);
    expect(tunnels()).toEqual(new Set([new URL(env.gitlab.url).host, new URL(env.registry.url).host]));
  });

  it.each(["127.0.0.1", "localhost,127.0.0.1"])("NO_PROXY=%s bypasses it", async (noProxy) => {
    const result = await runCli([...args, "-n"], { env: { HTTP_PROXY: proxy.url, NO_PROXY: noProxy } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^Would delete image /gm)).toHaveLength(2);
    expect(proxy.log).toEqual([]);
  });

  it("an unreachable proxy is an error that names the request, and deletes nothing", async () => {
    const result = await runCli([...args], { env: { HTTP_PROXY: "http://127.0.0.1:9" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/requesting a registry token from http:\/\/127\.0\.0\.1:\d+\/jwt\/auth: .*ECONNREFUSED/);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(baseline);
  });

  it("deletes go through the proxy too", async () => {
    const result = await runCli(args, { env: { HTTP_PROXY: proxy.url } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^Deleted image /gm)).toHaveLength(2);
    expect(tunnels()).toContain(new URL(env.registry.url).host);
    expect(await revisionLinks(env.registry.storageRoot)).toHaveLength(baseline.length - 2);
  });
});
