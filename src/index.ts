/**
 * The programmatic API: the same cleanup the CLI runs, with the adapters to build it from.
 * `runCleanup` performs its own safety checks through `deps.preflight`.
 */
export { runCleanup } from "./cleanup.js";
export type { CleanupDependencies, CleanupEvents, CleanupOptions, PlanTotals } from "./cleanup.js";
export { planRepository } from "./core/plan.js";
export { describeKeepReason } from "./core/keep-reason.js";
export { SpaceLedger, markedBlobs } from "./core/space.js";
export type { SpaceEstimate, BlobTotals } from "./core/space.js";
export { parseDigest, type Digest } from "./core/digest.js";
export { parseRepositoryName, type RepositoryName } from "./core/repository-name.js";
export { parseManifest, type ParsedManifest } from "./core/manifest.js";
export { AuthError, CleanupError, ExitCode, SafetyRefusal, UsageError } from "./core/errors.js";
export type * from "./core/types.js";
export type * from "./core/report.js";
export { FilesystemStorageReader } from "./storage/filesystem-reader.js";
export type { StorageReader } from "./storage/storage-reader.js";
export { GitLabTokenProvider } from "./gitlab/token-provider.js";
export { GitLabRestApi } from "./gitlab/api.js";
export type { GitLabApi, GitLabUser, TokenProvider } from "./gitlab/ports.js";
export { RegistryClient } from "./registry/registry-client.js";
export { createDispatcher } from "./registry/http.js";
export type { RegistryApi, DeleteOutcome } from "./registry/ports.js";
export { buildPreflight, type PreflightResult } from "./preflight.js";
export { FileJournal, type JournalRecord } from "./execute/journal.js";
export { runRestore } from "./restore.js";
export { parseJournal, readJournalFile } from "./execute/journal-reader.js";
export type { TokenActions } from "./gitlab/ports.js";
