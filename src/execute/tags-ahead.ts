/**
 * A dry run's cross-checks (cross-check.ts), asked for while the scan goes on. The registry spends
 * about a millisecond of CPU on each tag list, and a dry run of 1,000 repositories waited about a
 * second for them after the scan (docs/performance.md); asked for as each repository is planned,
 * they are answered beside the scan. Tokens are asked for ahead too, a full `/jwt/auth` request
 * at a time, so there are no more requests than without this. A real run never asks ahead: its
 * cross-check must come right before its deletes.
 */
import type { RepositoryName } from "../core/repository-name.js";
import type { TokenProvider } from "../gitlab/ports.js";
import type { RegistryApi } from "../registry/ports.js";
import { Semaphore } from "./pool.js";

export class TagListsAhead {
  private readonly lists = new Map<RepositoryName, Promise<string[] | undefined>>();
  private readonly grants = new Map<RepositoryName, Promise<boolean>>();
  private readonly slots: Semaphore;

  constructor(
    private readonly tokens: Required<Pick<TokenProvider, "authorizeAhead">>,
    private readonly registry: Pick<RegistryApi, "listTags">,
    /** Tag lists in flight at most. */
    concurrency: number,
  ) {
    this.slots = new Semaphore(concurrency);
  }

  /** A repository the dry run will cross-check: its tags are listed once its token is granted. */
  add(name: RepositoryName): void {
    // A token that could not be had ahead (GitLab busy, say) is asked for again when needed: the
    // cross-check then lists the tags itself, and a failure is the registry's, not an old one of GitLab's.
    const granted = this.tokens.authorizeAhead(name).catch(() => false);
    const list = granted.then((ok) => (ok ? this.slots.use(() => this.registry.listTags(name)) : undefined));
    // Taken (and its failure judged) by the cross-check; one never taken is no unhandled rejection.
    list.catch(() => undefined);
    this.lists.set(name, list);
    this.grants.set(name, granted);
  }

  /**
   * Settles once GitLab answered for the token `name` was asked ahead in (never rejects); at
   * once for a name not asked ahead. Tokens asked ahead go out a full request at a time, so the
   * last names of a scan wait until something asks for a token outright (`authorize`).
   */
  async granted(name: RepositoryName): Promise<void> {
    const granted = this.grants.get(name);
    this.grants.delete(name);
    await granted;
  }

  /**
   * The registry's tags of `name` as listed ahead, failing as `listTags` would; listed now when
   * it was not asked ahead or its token did not grant the cleanup's actions then.
   */
  take(name: RepositoryName): Promise<string[]> {
    const list = this.lists.get(name);
    this.lists.delete(name);
    return list ? list.then((tags) => tags ?? this.registry.listTags(name)) : this.registry.listTags(name);
  }
}
