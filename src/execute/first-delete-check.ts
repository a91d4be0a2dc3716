/**
 * The tag cross-check compares names only, so two registries with the same tags would pass it.
 * This closes that gap cheaply: until one DELETE has been seen to remove its revision link from
 * the storage given with -p, deletes go one at a time; a 202 that leaves the link in place means
 * -r does not serve -p, and the run stops before a second manifest is touched.
 */
import type { Digest } from "../core/digest.js";
import { SafetyRefusal } from "../core/errors.js";
import type { RepositoryName } from "../core/repository-name.js";
import type { DeleteOutcome } from "../registry/ports.js";
import type { StorageReader } from "../storage/storage-reader.js";

/** -r answered a DELETE, but the storage at -p did not change: they are not the same registry. */
export class StorageMismatchError extends SafetyRefusal {}

export class FirstDeleteCheck {
  private verified = false;
  private failure: StorageMismatchError | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly storage: StorageReader) {}

  /** Runs `remove` (the DELETE of `digest` in `name`), serialised and checked until one is proven. */
  async run(name: RepositoryName, digest: Digest, remove: () => Promise<DeleteOutcome>): Promise<DeleteOutcome> {
    if (this.verified) return remove();
    const turn = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      const outcome = await remove();
      if (!this.verified && outcome.kind === "deleted") await this.prove(name, digest);
      return outcome;
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async prove(name: RepositoryName, digest: Digest): Promise<void> {
    if (!(await this.storage.hasRevision(name, digest))) {
      this.verified = true;
      return;
    }
    this.failure = new StorageMismatchError(
      `The registry answered 202 to deleting ${name}@${digest}, but its revision link is still in the storage at ` +
        `${this.storage.location}: that storage (-p, or the bucket of --storage or of the registry config) is not the ` +
        "storage of the registry given with -r. The run stopped after that one " +
        "delete; it is in the journal, and `gitlab-registry-cleanup restore <journal>` puts it back.",
    );
    throw this.failure;
  }
}
