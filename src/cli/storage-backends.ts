/**
 * The typed table of storage backends: which driver serves which registry config, and how the
 * flags (-p, --storage) pick one. A new backend (gcs, azure) is one more row here and one more
 * driver under src/storage/, nothing else.
 */
import { SafetyRefusal, UsageError } from "../core/errors.js";
import type { StorageDriver } from "../storage/driver.js";
import { FilesystemDriver } from "../storage/filesystem-driver.js";
import type { RegistryConfigRead } from "../storage/registry-config.js";
import { s3SettingsFromConfig, s3SettingsFromUrl } from "../storage/s3/config.js";
import { S3Driver } from "../storage/s3/s3-driver.js";
import type { S3Settings } from "../storage/s3/settings.js";
import { OMNIBUS_STORAGE_ROOT } from "../storage/storage-root.js";
import type { ResolvedOptions } from "./options.js";

/** The storage a run reads, and how to talk about it. */
export interface StorageChoice {
  driver: StorageDriver;
  /** The registry config's name of the driver whose layout is read: `filesystem`, `s3`. */
  reading: keyof typeof BACKENDS;
  /** Where the credentials to read it come from, in words, never a secret (S3 only). */
  credentialSource?: () => Promise<string>;
  /** Lets go of connections, when the backend holds any. */
  close?: () => Promise<void>;
}

/** What a backend is built from: the flags that name the storage, and the config when it was read. */
type BackendInput = Pick<ResolvedOptions, "registryPath" | "storage" | "s3Endpoint" | "s3Region" | "registryConfig"> & {
  config: RegistryConfigRead;
};

/** Each supported driver of the registry config, and how to build its reader. */
const BACKENDS = {
  filesystem: (input: BackendInput): Omit<StorageChoice, "reading"> => ({
    driver: new FilesystemDriver(input.registryPath ?? input.config.config?.rootDirectory ?? OMNIBUS_STORAGE_ROOT),
  }),
  s3: (input: BackendInput): Omit<StorageChoice, "reading"> => {
    const driver = new S3Driver(s3Settings(input));
    return { driver, credentialSource: () => driver.credentialSource(), close: () => driver.close() };
  },
} as const;

/** Drivers of the registry that exist but are not read yet, with their names for people. */
const NOT_YET: Record<string, string> = {
  gcs: "Google Cloud Storage",
  azure: "Azure Blob Storage",
  swift: "OpenStack Swift",
  oss: "Alibaba Cloud OSS",
  inmemory: "in-memory",
};

/**
 * Picks the backend: `--storage` names a bucket outright; otherwise the registry config's storage
 * driver decides (`-p` overriding the filesystem root). Throws UsageError for flags that
 * contradict each other or the config, SafetyRefusal for a driver that is not supported.
 */
export function chooseStorage(input: BackendInput): StorageChoice {
  const configured = input.config.config?.storageDriver;
  if (input.storage !== undefined) return { reading: "s3", ...BACKENDS.s3(input) };
  if (configured === "s3") {
    if (input.registryPath !== undefined) {
      throw new UsageError(
        `-p/--registry-path names a storage path, but the registry config ${input.registryConfig} keeps the registry on S3. ` +
          "Leave out -p to read that bucket, or pass --registry-config of the registry whose storage is at -p.",
      );
    }
    return { reading: "s3", ...BACKENDS.s3(input) };
  }
  if (configured !== undefined && configured !== "filesystem") {
    const name = NOT_YET[configured] === undefined ? `"${configured}"` : `"${configured}" (${NOT_YET[configured]})`;
    throw new SafetyRefusal(
      `The registry config ${input.registryConfig} uses the ${name} storage driver, which this tool does not support yet: ` +
        "it reads the filesystem and s3 drivers only. Nothing was deleted.",
    );
  }
  return { reading: "filesystem", ...BACKENDS.filesystem(input) };
}

function s3Settings(input: BackendInput): S3Settings {
  if (input.storage !== undefined) return s3SettingsFromUrl(input.storage, input.s3Endpoint, input.s3Region);
  return s3SettingsFromConfig(input.config.config?.storageParameters ?? {}, input.registryConfig);
}
