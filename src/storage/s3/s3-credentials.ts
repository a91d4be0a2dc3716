/**
 * Where the S3 driver's credentials come from, in the order the registry itself looks: the
 * config's `accesskey`/`secretkey`, else the standard AWS chain (environment, shared credentials
 * file and profile, web identity, ECS/EC2 metadata) through @aws-sdk/credential-provider-node.
 * Also names the source in words for the summary and for error messages, never the secret.
 */
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { UsageError } from "../../core/errors.js";
import type { S3Settings } from "./settings.js";

/** What signing needs. Structurally the SDK's AwsCredentialIdentity. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working. */
  readonly expiration?: Date;
}

/** The credentials of one run, resolved once and refreshed before they expire. */
export interface S3CredentialProvider {
  /** The current credentials. Throws a UsageError that names the chain when there are none. */
  get(): Promise<S3Credentials>;
  /** Where they came from, e.g. "the environment (AWS_ACCESS_KEY_ID)"; resolves them first. */
  source(): Promise<string>;
}

/** The chain as the error message names it when nothing in it gave credentials. */
export const CREDENTIAL_CHAIN =
  "the registry config (accesskey/secretkey), the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), " +
  "the shared credentials file (~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE, profile from AWS_PROFILE), " +
  "web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), and an instance role (ECS or EC2 metadata)";

/**
 * Static keys from the settings when they give both; the AWS chain otherwise. `env` (default
 * process.env) supplies the variables this module reads itself: the access key pair, AWS_PROFILE,
 * the shared file paths and web identity. The SDK reads the metadata services' variables
 * (AWS_EC2_METADATA_DISABLED, AWS_CONTAINER_CREDENTIALS_*) from process.env only.
 */
export function createCredentialProvider(settings: S3Settings, env: NodeJS.ProcessEnv = process.env): S3CredentialProvider {
  const { accessKey, secretKey, sessionToken } = settings;
  // As distribution's chain does: the config's pair only when both halves are there.
  if (!accessKey || !secretKey) return chainProvider(settings.bucket, env);
  const credentials: S3Credentials = { accessKeyId: accessKey, secretAccessKey: secretKey, ...(sessionToken ? { sessionToken } : {}) };
  return { get: async () => credentials, source: async () => "the registry config (accesskey and secretkey)" };
}

/** Credentials the SDK marked with the features that produced them. */
type MarkedCredentials = S3Credentials & { $source?: Record<string, unknown> };

function chainProvider(bucket: string, env: NodeJS.ProcessEnv): S3CredentialProvider {
  const profile = env.AWS_PROFILE || undefined;
  // Memoized by the SDK: resolved once, re-resolved 5 minutes before an expiration.
  const chain = defaultProvider({
    ...(profile ? { profile } : {}),
    ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
    ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
    ...(env.AWS_WEB_IDENTITY_TOKEN_FILE ? { webIdentityTokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE } : {}),
    ...(env.AWS_ROLE_ARN ? { roleArn: env.AWS_ROLE_ARN } : {}),
    ...(env.AWS_ROLE_SESSION_NAME ? { roleSessionName: env.AWS_ROLE_SESSION_NAME } : {}),
  });
  const fromEnv = environmentKeys(env, profile);
  let last: MarkedCredentials | undefined;
  const get = async (): Promise<S3Credentials> => {
    if (fromEnv) return fromEnv;
    try {
      return (last = (await chain()) as MarkedCredentials);
    } catch (error) {
      throw noCredentials(bucket, error);
    }
  };
  const source = async (): Promise<string> => {
    if (fromEnv) return "the environment (AWS_ACCESS_KEY_ID)";
    await get();
    return describeSource(last?.$source, profile ?? "default", env);
  };
  return { get, source };
}

/**
 * The first link of the chain, read from `env` here so that an injected environment works (the
 * SDK's own reads process.env). Like the SDK, AWS_PROFILE takes precedence over the key pair.
 */
function environmentKeys(env: NodeJS.ProcessEnv, profile: string | undefined): S3Credentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (profile || !accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN;
  const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), ...(expiration ? { expiration } : {}) };
}

function noCredentials(bucket: string, error: unknown): UsageError {
  const detail = error instanceof Error ? error.message : String(error);
  // The chain's catch-all says nothing the list below does not; a profile's own problem does.
  const why = /from any providers/i.test(detail) ? "" : ` The last step said: ${detail}`;
  return new UsageError(
    `No S3 credentials found for bucket "${bucket}": looked in ${CREDENTIAL_CHAIN}.${why} ` +
      "Set accesskey and secretkey in the registry config's storage.s3 section, export " +
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance role grants s3:ListBucket and s3:GetObject.",
    { cause: error },
  );
}

/**
 * Which step of the chain answered, from the SDK's `$source` feature marks (see
 * @aws-sdk/core setCredentialFeature), most specific first: an assumed role also carries the mark
 * of the profile that led to it.
 */
const SOURCE_MARKS: ReadonlyArray<[string, (profile: string) => string]> = [
  ["CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN", () => "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"],
  ["CREDENTIALS_STS_ASSUME_ROLE_WEB_ID", () => "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"],
  ["CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN", (p) => `web identity (profile ${p})`],
  ["CREDENTIALS_PROFILE_SOURCE_PROFILE", (p) => `an assumed role (profile ${p}, source_profile)`],
  ["CREDENTIALS_PROFILE_NAMED_PROVIDER", (p) => `an assumed role (profile ${p}, credential_source)`],
  ["CREDENTIALS_PROFILE_SSO", (p) => `AWS SSO (profile ${p})`],
  ["CREDENTIALS_PROFILE_SSO_LEGACY", (p) => `AWS SSO (profile ${p})`],
  ["CREDENTIALS_SSO", (p) => `AWS SSO (profile ${p})`],
  ["CREDENTIALS_SSO_LEGACY", (p) => `AWS SSO (profile ${p})`],
  ["CREDENTIALS_PROFILE_LOGIN", (p) => `an AWS console login (profile ${p})`],
  ["CREDENTIALS_LOGIN", (p) => `an AWS console login (profile ${p})`],
  ["CREDENTIALS_PROFILE_PROCESS", (p) => `a credential_process (profile ${p})`],
  ["CREDENTIALS_PROCESS", (p) => `a credential_process (profile ${p})`],
  ["CREDENTIALS_PROFILE", (p) => `the shared credentials file (profile ${p})`],
  ["CREDENTIALS_ENV_VARS", () => "the environment (AWS_ACCESS_KEY_ID)"],
  ["CREDENTIALS_HTTP", () => "a container role (ECS container metadata)"],
];

/** The words for a `$source` mark set, e.g. "the shared credentials file (profile default)". */
export function describeSource(marks: Record<string, unknown> | undefined, profile: string, env: NodeJS.ProcessEnv): string {
  for (const [mark, words] of SOURCE_MARKS) if (marks?.[mark] !== undefined) return words(profile);
  // The metadata providers of @smithy/credential-provider-imds leave no mark.
  const container = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  return container ? "a container role (ECS container metadata)" : "an instance role (EC2 instance metadata)";
}
