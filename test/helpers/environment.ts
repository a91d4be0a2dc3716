/**
 * One call for integration tests: signing key, GitLab stand-in and a real registry wired together,
 * in a temp directory that `stop()` removes. Use in beforeAll / afterAll. The registry stores on
 * the filesystem, or with the `s3` option in a bucket of an S3 server the caller started (and
 * stops: one server can serve several environments).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RoleThresholds, StandinProject, StandinUser } from "./gitlab-permissions.js";
import { startGitlabStandin, type GitlabStandin } from "./gitlab-standin.js";
import { createPki, type Pki } from "./pki.js";
import { createPushContext, type Credentials, type PushContext } from "./registry-http.js";
import { startRegistry, type RegistryServer, type RegistryStorage, type RunningRegistry, type S3RegistryServer } from "./registry-server.js";
import type { S3Server } from "./s3-server.js";

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
  /** Store in a bucket of this S3 server instead of the temp directory. */
  s3?: S3EnvironmentOptions;
}

export interface S3EnvironmentOptions {
  server: S3Server;
  /** Created when missing. */
  bucket: string;
  /** The registry's `rootdirectory`; default `/`. */
  rootDirectory?: string;
  /**
   * True (default): the keys are in the config's `accesskey` / `secretkey`. False: the config has
   * none and the registry gets them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (`registry.env`).
   */
  credentialsInConfig?: boolean;
}

/** Running stand-in and registry, plus the way to tear them down. */
export interface Environment<Registry extends RunningRegistry = RegistryServer> {
  /** Temp directory holding the key, the registry config and (filesystem storage) its tree. */
  dir: string;
  pki: Pki;
  gitlab: GitlabStandin;
  registry: Registry;
  /** Push helper context using `credentials` (default ROOT, who may push anywhere). */
  pushContext(credentials?: Credentials): PushContext;
  /** Stops the registry and the stand-in, and removes `dir`. A bucket and its S3 server stay. */
  stop(): Promise<void>;
}

/** An environment whose registry stores in a bucket. */
export type S3Environment = Environment<S3RegistryServer>;

/** Starts key, stand-in and registry. On failure, whatever did start is stopped before rethrowing. */
export async function startEnvironment(options: EnvironmentOptions & { s3: S3EnvironmentOptions }): Promise<S3Environment>;
export async function startEnvironment(options?: EnvironmentOptions & { s3?: undefined }): Promise<Environment>;
export async function startEnvironment(options?: EnvironmentOptions): Promise<Environment<RegistryServer | S3RegistryServer>>;
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment<RegistryServer | S3RegistryServer>> {
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
      ...(options.s3 ? await s3Storage(options.s3) : {}),
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

/** The registry's `storage` and `env` options for a bucket of `s3.server`, creating the bucket. */
async function s3Storage(s3: S3EnvironmentOptions): Promise<{ storage: RegistryStorage; env: Record<string, string> }> {
  const { server } = s3;
  await server.createBucket(s3.bucket);
  const inConfig = s3.credentialsInConfig ?? true;
  return {
    storage: {
      s3: {
        endpoint: server.endpoint,
        region: server.region,
        bucket: s3.bucket,
        ...(s3.rootDirectory === undefined ? {} : { rootDirectory: s3.rootDirectory }),
        ...(inConfig ? { accessKey: server.accessKey, secretKey: server.secretKey } : {}),
      },
    },
    env: inConfig ? {} : { AWS_ACCESS_KEY_ID: server.accessKey, AWS_SECRET_ACCESS_KEY: server.secretKey },
  };
}
