/**
 * GitLab and the registry over HTTPS with self-signed certificates: an untrusted certificate is
 * a clear error and deletes nothing; --ca-cert (also through an HTTPS proxy) and -k work.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startEnvironment, type Environment } from "../helpers/environment.js";
import { pushTagHistory } from "../helpers/images.js";
import { startForwardProxy, startReverseProxy, type RecordingProxy } from "../helpers/proxies.js";
import { revisionLinks } from "../helpers/revision-links.js";
import { credentialsFile, runCli } from "../helpers/run-cli.js";
import { createServerCertificate, type TlsCertificate } from "../helpers/tls-certificate.js";

let dir: string;
let registryCert: TlsCertificate;
let gitlabCert: TlsCertificate;
let env: Environment;
/** The GitLab stand-in behind an HTTPS front with its own certificate. */
let gitlab: RecordingProxy;
let creds: string;
let bundle: string;
let baseline: string[];

function cli(...extra: string[]): string[] {
  return [
    "-g", gitlab.url, "-r", env.registry.url, "-p", env.registry.storageRoot,
    "--registry-config", env.registry.configPath, "-c", creds, "--min-age", "0",
    "--journal", join(env.dir, "journal.jsonl"), ...extra,
  ];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tls-"));
  [registryCert, gitlabCert] = await Promise.all([
    createServerCertificate(dir, "registry"), createServerCertificate(dir, "gitlab"),
  ]);
  env = await startEnvironment({ tls: registryCert });
  gitlab = await startReverseProxy(env.gitlab.url, gitlabCert);
  creds = await credentialsFile(env, ROOT);
  bundle = join(dir, "bundle.pem");
  await writeFile(bundle, registryCert.cert + gitlabCert.cert);
  // The push helpers use undici's global dispatcher: let it trust the registry for the seeding.
  const previous = getGlobalDispatcher();
  const trusting = new Agent({ connect: { ca: registryCert.cert } });
  setGlobalDispatcher(trusting);
  try {
    await pushTagHistory(env.pushContext(), "group/project", "latest", 3, { seed: 1 });
  } finally {
    setGlobalDispatcher(previous);
    await trusting.close();
  }
  baseline = await revisionLinks(env.registry.storageRoot);
});

afterAll(async () => {
  await gitlab?.close();
  await env?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("an untrusted certificate", () => {
  it.each([
    ["GitLab's, when nothing is trusted", () => cli(), /requesting a registry token from https:\/\/127\.0\.0\.1:\d+\/jwt\/auth: .*self-signed certificate/],
    ["the registry's, when only GitLab's is trusted", () => cli("--ca-cert", gitlabCert.certPath), /checking the registry at https:\/\/127\.0\.0\.1:\d+\/v2\/: .*self-signed certificate/],
  ])("%s: a clear error with the fix, exit 2, nothing deleted", async (_, args, message) => {
    const result = await runCli(args());
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(result.stderr).toContain("Pass the CA that signed it with --ca-cert <file.pem>");
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(baseline);
  });
});

describe("a trusted connection", () => {
  it.each([
    ["--ca-cert with both certificates", () => cli("--ca-cert", bundle)],
    ["-k", () => cli("-k")],
  ])("%s: the dry run reaches the registry", async (_, args) => {
    const result = await runCli([...args(), "-n"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^Would delete image /gm)).toHaveLength(2);
    expect(await revisionLinks(env.registry.storageRoot)).toEqual(baseline);
  });

  it("--ca-cert applies through an HTTPS_PROXY tunnel too", async () => {
    const proxy = await startForwardProxy();
    try {
      const result = await runCli([...cli("--ca-cert", bundle), "-n"], { env: { HTTPS_PROXY: proxy.url } });
      expect(result.code, result.stderr).toBe(0);
      const tunnels = new Set(proxy.log.filter((r) => r.method === "CONNECT").map((r) => r.target));
      expect(tunnels).toEqual(new Set([new URL(gitlab.url).host, new URL(env.registry.url).host]));
    } finally {
      await proxy.close();
    }
  });

  it("--ca-cert lets a real run delete over HTTPS", async () => {
    const result = await runCli(cli("--ca-cert", bundle));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^Deleted image /gm)).toHaveLength(2);
    expect(await revisionLinks(env.registry.storageRoot)).toHaveLength(baseline.length - 2);
  });
});
