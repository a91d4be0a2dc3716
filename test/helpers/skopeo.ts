/**
 * skopeo as an independent client: if skopeo can copy an image back, the registry still serves
 * every manifest and blob it needs. Always async (execFile): skopeo asks the GitLab stand-in for
 * a token, and the stand-in runs in this very process, so a blocking spawnSync would deadlock.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
export const SKOPEO_BINARY = "/usr/bin/skopeo";
const TIMEOUT_MS = 60_000;

/**
 * `skopeo copy --all` of `ref` (e.g. `docker://127.0.0.1:5000/group/app:tag` or `…@sha256:…`)
 * into `dir:<destDir>`, authenticating with `user:secret`. Every platform of an index is copied.
 * Creates the parent of `destDir`; throws with skopeo's stderr on failure.
 */
export async function skopeoCopyAll(ref: string, creds: string, destDir: string): Promise<void> {
  await mkdir(dirname(destDir), { recursive: true });
  await runSkopeo(["copy", "--all", "--src-tls-verify=false", "--src-creds", creds, ref, `dir:${destDir}`], ref);
}

/** `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them. */
export async function skopeoInspectRaw(ref: string, creds: string): Promise<string> {
  return runSkopeo(["inspect", "--raw", "--tls-verify=false", "--creds", creds, ref], ref);
}

async function runSkopeo(args: string[], ref: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(SKOPEO_BINARY, args, { timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    const reason = stderr.trim() || (error as { code?: unknown }).code || "unknown error";
    // The credentials are an argument, and execFile's own message repeats the command line:
    // name the command only, and do not chain the original error.
    throw new Error(`skopeo ${args[0]} ${ref} failed: ${String(reason)}`);
  }
}
