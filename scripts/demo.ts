/**
 * `npm run demo`: the tool at work without a GitLab server. Starts the real registry and the
 * GitLab stand-in, pushes a small realistic history, then runs a dry run, the cleanup and
 * garbage collection, and shows the space freed on disk.
 */
import { spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ROOT_TOKEN, startEnvironment, type Environment } from "../test/helpers/environment.js";
import { pushMultiArch, pushReferrer, pushTagHistory } from "../test/helpers/images.js";
import { garbageCollect } from "../test/helpers/registry-server.js";
import { CLI, credentialsFile, environmentArgs } from "../test/helpers/run-cli.js";

const say = (text: string): void => void process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);

async function main(): Promise<void> {
  say("Starting the real registry (docker-registry) and a GitLab stand-in on 127.0.0.1");
  const env = await startEnvironment({
    projects: [{ path: "shop/backend", members: {} }, { path: "shop/frontend", members: {} }],
  });
  try {
    say("Pushing a history: CI re-pushed :latest 5 times, a multi-arch image twice, and signed it");
    const ctx = env.pushContext();
    const backend = await pushTagHistory(ctx, "shop/backend", "latest", 5, { seed: 1, layers: 3, layerSize: 256 * 1024 });
    await pushMultiArch(ctx, "shop/frontend", { seed: 2, tag: "v1", layers: 2 });
    const current = await pushMultiArch(ctx, "shop/frontend", { seed: 3, tag: "v1", layers: 2 });
    await pushReferrer(ctx, "shop/frontend", current.index, { seed: 4 });
    process.stdout.write(`pushed ${backend.length} backend images and 2 multi-arch frontend images\n`);
    const creds = await credentialsFile(env, ROOT_TOKEN);
    const args = [...environmentArgs(env, creds), "--min-age", "0"];
    say("Dry run (--min-age 0 because everything was pushed seconds ago; the default keeps 24h)");
    await runCli([...args, "--dry-run"]);
    say("Cleanup");
    await runCli([...args, "--yes"]);
    say("Garbage collection (what `sudo gitlab-ctl registry-garbage-collect` runs)");
    const before = await blobBytes(env);
    await env.registry.stop();
    await garbageCollect(env.registry.configPath);
    await env.registry.restart();
    const after = await blobBytes(env);
    process.stdout.write(`blob storage: ${mib(before)} before, ${mib(after)} after: ${mib(before - after)} freed\n`);
  } finally {
    await env.stop();
  }
}

function runCli(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

async function blobBytes(env: Environment): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name === "data") total += (await stat(path)).size;
    }
  };
  await walk(join(env.registry.storageRoot, "docker/registry/v2/blobs"));
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

await main();
