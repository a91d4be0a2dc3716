import { describe, expect, it } from "vitest";
import { s3Address } from "../../src/storage/s3/s3-client.js";
import { describeSource } from "../../src/storage/s3/s3-credentials.js";
import { S3RequestFailure, S3ResponseError, classifyS3Failure } from "../../src/storage/s3/s3-errors.js";
import { readError, rootError } from "../../src/storage/s3/s3-messages.js";
import { encodeKeyPath, s3Encode } from "../../src/storage/s3/s3-sign.js";
import type { S3Settings } from "../../src/storage/s3/settings.js";
import { StorageReadError, StorageUnavailableError } from "../../src/storage/driver.js";

const NOW = Date.UTC(2025, 0, 1);

describe("classifyS3Failure", () => {
  it.each([
    [500, "InternalError", true],
    [503, "SlowDown", true],
    [502, undefined, true],
    [400, "RequestTimeout", true],
    [403, "AccessDenied", false],
    [404, "NoSuchBucket", false],
    [400, "InvalidArgument", false],
  ])("%i %s: retry %s", (status, code, retry) => {
    expect(classifyS3Failure(new S3ResponseError(status, code, undefined), NOW).retry).toBe(retry);
  });

  it("honours Retry-After and classifies network failures as retry.ts does", () => {
    expect(classifyS3Failure(new S3ResponseError(503, "SlowDown", undefined, "2"), NOW)).toEqual({ retry: true, reason: "503 SlowDown", retryAfterMs: 2000 });
    expect(classifyS3Failure(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), NOW)).toEqual({ retry: true, reason: "ECONNREFUSED" });
    expect(classifyS3Failure(Object.assign(new Error("x"), { code: "ENOTFOUND" }), NOW).retry).toBe(false);
  });
});

describe("readError", () => {
  const context = { bucket: "b", location: "s3://b/r", source: "the environment (AWS_ACCESS_KEY_ID)", customEndpoint: true };
  const failure = (cause: unknown, attempts = 1) => new S3RequestFailure("s3://b/r/k", "http://127.0.0.1:9", attempts, { cause });

  it("spoils one key for a refusal, naming the permission and the source", () => {
    const error = readError(failure(new S3ResponseError(403, "AccessDenied", "Access Denied")), context, "s3:GetObject");
    expect(error).toBeInstanceOf(StorageReadError);
    expect((error as StorageReadError).denied).toBe(true);
    expect(error.message).toBe(
      "Could not read s3://b/r/k: access denied (403 AccessDenied: Access Denied); the credentials from the environment (AWS_ACCESS_KEY_ID) need s3:GetObject on it.",
    );
  });

  it("ends the run when the endpoint stays unavailable or the credentials stop working", () => {
    const slow = readError(failure(new S3ResponseError(503, "SlowDown", "Please reduce your request rate."), 5), context, "s3:GetObject");
    expect(slow).toBeInstanceOf(StorageUnavailableError);
    expect(slow.message).toBe(
      "Could not read s3://b/r/k: the S3 endpoint http://127.0.0.1:9 answered 503 SlowDown to all 5 attempts (Please reduce your request rate). " +
        "The run stops here, since nothing is deleted without reading the bucket first; run again once it can be read.",
    );
    const refused = readError(failure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }), 4), context, "s3:GetObject");
    expect(refused.message).toMatch(/did not answer after 4 attempts \(ECONNREFUSED\)\. The run stops here/);
    expect(readError(failure(new S3ResponseError(403, "ExpiredToken", "expired")), context, "s3:GetObject")).toBeInstanceOf(StorageUnavailableError);
  });
});

describe("rootError", () => {
  it("names the permissions a refused listing needs, for a root at the bucket's top too", () => {
    const refusal = new S3RequestFailure("s3://b/", "https://b.s3.eu-west-1.amazonaws.com", 1, { cause: new S3ResponseError(403, "AccessDenied", "Access Denied") });
    const context = { bucket: "b", location: "s3://b/", source: "an instance role (EC2 instance metadata)", customEndpoint: false };
    expect(rootError(refusal, context).message).toBe(
      'Access denied to bucket "b" at https://b.s3.eu-west-1.amazonaws.com (403 AccessDenied: Access Denied). The credentials from an instance role ' +
        "(EC2 instance metadata) need s3:ListBucket on the bucket and s3:GetObject on s3://b/*: grant them in the bucket or IAM policy.",
    );
  });
});

describe("s3Address", () => {
  const settings = (more: Partial<S3Settings>): S3Settings => ({ bucket: "reg", rootDirectory: "", region: "eu-west-1", secure: true, skipVerify: false, ...more });

  it("puts the bucket in the host name on AWS, and in the path for dotted names and endpoints", () => {
    expect(s3Address(settings({}))).toMatchObject({ origin: "https://reg.s3.eu-west-1.amazonaws.com", bucketPath: "" });
    expect(s3Address(settings({ bucket: "my.reg" }))).toMatchObject({ origin: "https://s3.eu-west-1.amazonaws.com", bucketPath: "/my.reg" });
    expect(s3Address(settings({ region: "cn-north-1" })).origin).toBe("https://reg.s3.cn-north-1.amazonaws.com.cn");
    expect(s3Address(settings({ endpoint: "http://127.0.0.1:7480/" }))).toMatchObject({
      origin: "http://127.0.0.1:7480", hostname: "127.0.0.1", port: 7480, host: "127.0.0.1:7480", bucketPath: "/reg",
    });
  });

  it("gives an endpoint without a scheme https, or http when secure is false", () => {
    expect(s3Address(settings({ endpoint: "minio.local:9000" })).origin).toBe("https://minio.local:9000");
    expect(s3Address(settings({ endpoint: "minio.local:9000", secure: false })).origin).toBe("http://minio.local:9000");
    expect(s3Address(settings({ endpoint: "[::1]:9000", secure: false }))).toMatchObject({ hostname: "::1", host: "[::1]:9000" });
  });
});

describe("key encoding", () => {
  it("encodes each segment as SigV4 wants and keeps the slashes", () => {
    expect(encodeKeyPath("docker/registry/v2/repositories/g/app/_manifests/tags/v1.0_x-y/current/link")).toBe(
      "docker/registry/v2/repositories/g/app/_manifests/tags/v1.0_x-y/current/link",
    );
    expect(encodeKeyPath("a b/c+d/e!'()*~/é")).toBe("a%20b/c%2Bd/e%21%27%28%29%2A~/%C3%A9");
    expect(s3Encode("1/ab+c==")).toBe("1%2Fab%2Bc%3D%3D");
  });
});

describe("describeSource", () => {
  it("names the most specific step of the chain", () => {
    expect(describeSource({ CREDENTIALS_ENV_VARS: "g" }, "default", {})).toBe("the environment (AWS_ACCESS_KEY_ID)");
    expect(describeSource({ CREDENTIALS_PROFILE: "n" }, "ops", {})).toBe("the shared credentials file (profile ops)");
    expect(describeSource({ CREDENTIALS_PROFILE: "n", CREDENTIALS_PROFILE_SOURCE_PROFILE: "o", CREDENTIALS_STS_ASSUME_ROLE: "i" }, "ops", {})).toBe(
      "an assumed role (profile ops, source_profile)",
    );
    expect(describeSource({ CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: "h", CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: "k" }, "default", {})).toBe(
      "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
    );
    expect(describeSource(undefined, "default", {})).toBe("an instance role (EC2 instance metadata)");
    expect(describeSource(undefined, "default", { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/x" })).toBe("a container role (ECS container metadata)");
  });
});
