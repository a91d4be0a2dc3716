import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/core/errors.js";
import { FilesystemDriver } from "../../src/storage/filesystem-driver.js";
import { interpretConfig, readLockfiles, readRegistryConfig } from "../../src/storage/registry-config.js";
import { type StorageTree, createStorageTree, failingFs, lockfilePath } from "../helpers/storage-tree.js";

const SECRET = "s3cr3t-P4ssw0rd-do-not-print";

const OMNIBUS_YAML = `
version: 0.1
log:
  level: info
storage:
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  filesystem:
    rootdirectory: /var/opt/gitlab/gitlab-rails/shared/registry
  maintenance:
    readonly:
      enabled: false
http:
  addr: 127.0.0.1:5000
  secret: "${SECRET}"
database:
  enabled: %ENABLED%
  host: /var/opt/gitlab/postgresql
  password: ${SECRET}
`;

let tree: StorageTree;
beforeEach(async () => {
  tree = await createStorageTree();
});
afterEach(async () => {
  await tree.cleanup();
});

async function read(content: string) {
  const path = await tree.writeRaw("config.yml", content);
  return readRegistryConfig(path);
}

describe("readRegistryConfig", () => {
  it.each([
    ["true", true],
    ["false", false],
    ["prefer", "prefer"],
    ['"prefer"', "prefer"],
    ['"true"', true],
    ["'false'", false],
    ["yes", true],
    ["off", false],
    ["", undefined],
  ] as const)("reads database.enabled: %s from YAML", async (text, expected) => {
    const result = await read(OMNIBUS_YAML.replace("%ENABLED%", text));
    expect(result).toEqual({
      config: {
        databaseEnabled: expected,
        storageDriver: "filesystem",
        rootDirectory: "/var/opt/gitlab/gitlab-rails/shared/registry",
        storageParameters: { rootdirectory: "/var/opt/gitlab/gitlab-rails/shared/registry" },
      },
    });
  });

  it("treats a config without a database section as database disabled", async () => {
    const result = await read("version: 0.1\nstorage:\n  delete: {enabled: true}\n  filesystem: {}\n");
    expect(result).toEqual({ config: { databaseEnabled: undefined, storageDriver: "filesystem", storageParameters: {} } });
  });

  it("reads JSON, even tab-indented JSON that YAML rejects", async () => {
    const json = JSON.stringify({ storage: { redirect: { disable: true }, s3: { bucket: "b" } }, database: { enabled: "prefer" } }, null, "\t");
    expect(await read(json)).toEqual({ config: { databaseEnabled: "prefer", storageDriver: "s3", storageParameters: { bucket: "b" } } });
  });

  it("names a storage driver other than filesystem", async () => {
    const result = await read("storage:\n  maintenance: {}\n  tag: {concurrency: 5}\n  gcs:\n    bucket: x\n");
    expect(result.config?.storageDriver).toBe("gcs");
    expect(result.config?.rootDirectory).toBeUndefined();
  });

  it("reports a missing file", async () => {
    const path = join(tree.root, "missing.yml");
    expect(await readRegistryConfig(path)).toEqual({ problem: `${path} was not found` });
  });

  it("reports permission denied with a hint to use sudo", async () => {
    const result = await readRegistryConfig("/etc/registry.yml", failingFs({ "/etc/registry.yml": "EACCES" }));
    expect(result.problem).toBe("permission denied reading /etc/registry.yml; run the tool with sudo");
  });

  it.each([
    ["invalid YAML", `http:\n  secret: ${SECRET}\n  bad: [unclosed ${SECRET}\n`, "is neither valid YAML nor JSON"],
    ["an invalid enabled value", OMNIBUS_YAML.replace("%ENABLED%", SECRET), "neither true, false nor prefer"],
    ["a non-mapping database entry", `database: ${SECRET}\n`, '"database" entry that is not a mapping'],
    ["a scalar document", SECRET, "does not hold a YAML mapping"],
    ["a duplicate key", `database:\n  enabled: false\n  enabled: ${SECRET}\n`, "is neither valid YAML nor JSON"],
  ])("reports %s without ever quoting the file", async (_, content, expected) => {
    const result = await read(content);
    expect(result.config).toBeUndefined();
    expect(result.problem).toContain(expected);
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).not.toContain("s3cr3t");
  });

  it("never returns the secrets of a valid config either", async () => {
    const result = interpretConfig("/x.yml", OMNIBUS_YAML.replace("%ENABLED%", "false"));
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

describe("readLockfiles", () => {
  it("reports which lockfiles exist", async () => {
    const driver = new FilesystemDriver(tree.root);
    expect(await readLockfiles(driver)).toEqual({ databaseInUseLock: false, filesystemInUseLock: false });
    await tree.lockfile("filesystem-in-use");
    expect(await readLockfiles(driver)).toEqual({ databaseInUseLock: false, filesystemInUseLock: true });
    await tree.lockfile("database-in-use");
    expect(await readLockfiles(driver)).toEqual({ databaseInUseLock: true, filesystemInUseLock: true });
  });

  it("throws instead of answering 'absent' when the lockfiles cannot be checked", async () => {
    const denied = lockfilePath(tree.root, "database-in-use");
    const error = await readLockfiles(new FilesystemDriver(tree.root, { fs: failingFs({ [denied]: "EACCES" }) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`Cannot check the registry lockfile ${denied}`);
    expect((error as Error).message).toContain("sudo");
  });
});
