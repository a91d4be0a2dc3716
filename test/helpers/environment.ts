/**
 * One call for integration tests: signing key, GitLab stand-in and a real registry wired together,
 * in a temp directory that `stop()` removes. Use in beforeAll / afterAll.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RoleThresholds, StandinProject, StandinUser } from "./gitlab-permissions.js";
import { startGitlabStandin, type GitlabStandin } from "./gitlab-standin.js";
import { createPki, type Pki } from "./pki.js";
import { createPushContext, type Credentials, type PushContext } from "./registry-http.js";
import { startRegistry, type RegistryServer } from "./registry-server.js";

/** The instance admin, logging in with a password. */
export const ROOT: Credentials = { username: "root", secret: "root-password" };
/** The admin's personal access token with scope `api`. */
export const ROOT_TOKEN: Credentials = { username: "root", secret: "glpat-root-api-token" };
/** A Maintainer of `group/project`, logging in with a password. */
export const DEV: Credentials = { username: "dev", secret: "dev-password" };

/** root (admin, password + `api` PAT) and dev (password), minimal on purpose. */
export const DEFAULT_USERS: StandinUser[] = [
  { username: ROOT.username, password: ROOT.secret, admin: true, tokens: [{ token: ROOT_TOKEN.secret, scopes: ["api"] }] },
  { username: DEV.username, password: DEV.secret },
];

/** `group/project`, where dev is Maintainer. */
export const DEFAULT_PROJECTS: StandinProject[] = [{ path: "group/project", members: { dev: "maintainer" } }];

export interface EnvironmentOptions {
  /** Replace the defaults (spread DEFAULT_USERS to extend them). */
  users?: StandinUser[];
  projects?: StandinProject[];
  /** Token issuer, shared by stand-in and registry. Default `gitlab-issuer`. */
  issuer?: string;
  expirySeconds?: number;
  deleteEnabled?: boolean;
  thresholds?: Partial<RoleThresholds>;
  /** Serve the registry over HTTPS with this certificate and key (see tls-certificate.ts). */
  tls?: { certPath: string; keyPath: string };
}

/** Running stand-in and registry, plus the way to tear them down. */
export interface Environment {
  /** Temp directory holding the key, the registry config and its storage. */
  dir: string;
  pki: Pki;
  gitlab: GitlabStandin;
  registry: RegistryServer;
  /** Push helper context using `credentials` (default ROOT, who may push anywhere). */
  pushContext(credentials?: Credentials): PushContext;
  /** Stops the registry and the stand-in, and removes `dir`. */
  stop(): Promise<void>;
}

/** Starts key, stand-in and registry. On failure, whatever did start is stopped before rethrowing. */
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const dir = await mkdtemp(join(tmpdir(), "registry-env-"));
  const issuer = options.issuer ?? "gitlab-issuer";
  let gitlab: GitlabStandin | undefined;
  try {
    const pki = await createPki(dir);
    gitlab = await startGitlabStandin({
      pki,
      issuer,
      users: options.users ?? DEFAULT_USERS,
      projects: options.projects ?? DEFAULT_PROJECTS,
      ...(options.expirySeconds === undefined ? {} : { expirySeconds: options.expirySeconds }),
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
    });
    const registryDir = join(dir, "registry");
    await mkdir(registryDir);
    const registry = await startRegistry({
      realm: gitlab.realm,
      issuer,
      certPath: pki.certPath,
      dir: registryDir,
      deleteEnabled: options.deleteEnabled ?? true,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    const standin = gitlab;
    return {
      dir,
      pki,
      gitlab: standin,
      registry,
      pushContext: (credentials = ROOT) => createPushContext(registry.url, standin.realm, credentials),
      stop: async () => {
        await registry.dispose();
        await standin.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await gitlab?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
