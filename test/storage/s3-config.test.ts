/** S3Settings from the registry config's storage.s3 section and from --storage s3://… */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import { normaliseRootDirectory, s3SettingsFromConfig, s3SettingsFromUrl } from "../../src/storage/s3/config.js";

const CONFIG = "/var/opt/gitlab/registry/config.yml";

describe("s3SettingsFromConfig", () => {
  it("reads what omnibus writes from registry['storage'], keys included", () => {
    expect(s3SettingsFromConfig({
      bucket: "gitlab-registry", region: "eu-central-1", accesskey: "AKIA", secretkey: "secret",
      regionendpoint: "https://s3.example.internal", rootdirectory: "/registry", secure: true, v4auth: true,
    }, CONFIG)).toEqual({
      bucket: "gitlab-registry", rootDirectory: "registry/", region: "eu-central-1", endpoint: "https://s3.example.internal",
      secure: true, skipVerify: false, accessKey: "AKIA", secretKey: "secret",
    });
  });

  it("leaves the keys to the credential chain when the config has none, and defaults the region for an endpoint", () => {
    expect(s3SettingsFromConfig({ bucket: "b", regionendpoint: "http://127.0.0.1:9000", secure: "false", skipverify: "true" }, CONFIG))
      .toEqual({ bucket: "b", rootDirectory: "", region: "us-east-1", endpoint: "http://127.0.0.1:9000", secure: false, skipVerify: true });
  });

  it.each([
    [{ region: "r" }, "storage.s3.bucket in /var/opt/gitlab/registry/config.yml is missing"],
    [{ bucket: "b" }, "storage.s3.region in /var/opt/gitlab/registry/config.yml is missing"],
    [{ bucket: "b", region: "r", accesskey: "AKIA" }, "sets only one of storage.s3.accesskey and storage.s3.secretkey"],
    [{ bucket: "b", region: "r", secure: "maybe" }, "storage.s3.secure in /var/opt/gitlab/registry/config.yml must be true or false"],
    [{ bucket: ["b"], region: "r" }, "storage.s3.bucket in /var/opt/gitlab/registry/config.yml is not a string"],
  ])("refuses %o with a message naming the setting", (parameters, message) => {
    expect(() => s3SettingsFromConfig(parameters, CONFIG)).toThrow(UsageError);
    expect(() => s3SettingsFromConfig(parameters, CONFIG)).toThrow(message);
  });

  it("never puts a key's value in a message", () => {
    const error = (() => {
      try {
        s3SettingsFromConfig({ bucket: "b", region: "r", secretkey: "TOPSECRET" }, CONFIG);
      } catch (thrown) {
        return thrown as Error;
      }
    })();
    expect(error?.message).not.toContain("TOPSECRET");
  });
});

describe("s3SettingsFromUrl", () => {
  it("takes the bucket and the root directory from the URL", () => {
    expect(s3SettingsFromUrl("s3://bucket/registry/", "http://127.0.0.1:7480", undefined)).toEqual({
      bucket: "bucket", rootDirectory: "registry/", region: "us-east-1", endpoint: "http://127.0.0.1:7480", secure: false, skipVerify: false,
    });
    expect(s3SettingsFromUrl("s3://bucket", undefined, "eu-west-1")).toEqual({
      bucket: "bucket", rootDirectory: "", region: "eu-west-1", secure: true, skipVerify: false,
    });
  });

  it.each(["s3://", "s3:///prefix", "s3://bucket?x=1", "bucket/prefix"])("refuses %s", (url) => {
    expect(() => s3SettingsFromUrl(url, undefined, undefined)).toThrow("expected s3://<bucket> or s3://<bucket>/<rootdirectory>");
  });
});

describe("normaliseRootDirectory", () => {
  it.each([["", ""], ["/", ""], ["/registry", "registry/"], ["registry/", "registry/"], ["//a/b//", "a/b/"]])("%s -> %s", (input, expected) => {
    expect(normaliseRootDirectory(input)).toBe(expected);
  });
});
