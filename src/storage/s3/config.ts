/**
 * S3Settings from what users write: the registry config's `storage.s3` section (the parameters
 * of distribution's s3-aws driver, as omnibus writes them from `registry['storage']`), or
 * `--storage s3://<bucket>/<rootdirectory>` with `--s3-endpoint` and `--s3-region`.
 * Messages name the setting, never its value when it may be a secret.
 */
import { UsageError } from "../../core/errors.js";
import type { S3Settings } from "./settings.js";

/** distribution's default when the config names no region but an endpoint (S3-compatible servers). */
const DEFAULT_REGION = "us-east-1";

/** Reads the `storage.s3` parameters of the registry config at `configPath`. Throws UsageError. */
export function s3SettingsFromConfig(parameters: Record<string, unknown>, configPath: string): S3Settings {
  const where = (key: string): string => `storage.s3.${key} in ${configPath}`;
  const bucket = text(parameters.bucket, where("bucket"));
  if (bucket === undefined) throw new UsageError(`${where("bucket")} is missing: the registry config names no bucket.`);
  const endpoint = text(parameters.regionendpoint, where("regionendpoint"));
  const region = text(parameters.region, where("region")) ?? (endpoint === undefined ? undefined : DEFAULT_REGION);
  if (region === undefined) throw new UsageError(`${where("region")} is missing: the registry needs it for AWS S3 too.`);
  const accessKey = text(parameters.accesskey, where("accesskey"));
  const secretKey = text(parameters.secretkey, where("secretkey"));
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new UsageError(`${configPath} sets only one of storage.s3.accesskey and storage.s3.secretkey: set both, or neither to use the instance's credentials.`);
  }
  const sessionToken = text(parameters.sessiontoken, where("sessiontoken"));
  return {
    bucket,
    rootDirectory: normaliseRootDirectory(text(parameters.rootdirectory, where("rootdirectory")) ?? ""),
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    secure: flag(parameters.secure, where("secure")) ?? true,
    skipVerify: flag(parameters.skipverify, where("skipverify")) ?? false,
    ...(accessKey === undefined ? {} : { accessKey, secretKey: secretKey! }),
    ...(sessionToken === undefined ? {} : { sessionToken }),
  };
}

/** `--storage s3://<bucket>[/<rootdirectory>]`, `--s3-endpoint`, `--s3-region`. Throws UsageError. */
export function s3SettingsFromUrl(url: string, endpoint: string | undefined, region: string | undefined): S3Settings {
  const match = /^s3:\/\/([^/?#]+)(\/[^?#]*)?$/.exec(url.trim());
  if (!match) {
    throw new UsageError(`Invalid --storage "${url}": expected s3://<bucket> or s3://<bucket>/<rootdirectory>, e.g. s3://registry-bucket/registry.`);
  }
  const secure = endpoint === undefined || !/^http:\/\//i.test(endpoint);
  return {
    bucket: match[1]!,
    rootDirectory: normaliseRootDirectory(match[2] ?? ""),
    region: region ?? DEFAULT_REGION,
    ...(endpoint === undefined ? {} : { endpoint }),
    secure,
    skipVerify: false,
  };
}

/**
 * distribution builds keys as `trimLeft(trimRight(rootdirectory, "/") + "/docker/…", "/")`:
 * `/registry/` and `registry` both put the storage under `registry/`, `/` or nothing at the top.
 */
export function normaliseRootDirectory(rootDirectory: string): string {
  const trimmed = rootDirectory.replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function text(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new UsageError(`${where} is not a string.`);
}

/** A boolean as the registry's Go config accepts it: true/false, or their string forms. */
function flag(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(`${where} must be true or false.`);
}
