/** The command-line definition: flags, defaults, help. Wiring happens in main.ts. */
import { Command, Option } from "commander";
import { PASSWORD_ENV } from "./credentials.js";
import {
  DEFAULT_CONCURRENCY, DEFAULT_GC_COMMAND, DEFAULT_MIN_AGE, DEFAULT_REGISTRY_CONFIG, DEFAULT_REGISTRY_PATH, DEFAULT_USER,
  MAX_CONCURRENCY, type RawOptions,
} from "./options.js";

const HELP_AFTER = `
Examples:
  Dry run on an omnibus server (reads the storage, so it needs root):
    sudo npx gitlab-registry-cleanup -g gitlab.example.com -r registry.example.com -n
  From cron, with a credentials file (line 1: username, line 2: password or token; chmod 600):
    gitlab-registry-cleanup -g gitlab.example.com -r registry.example.com -c /root/.registry-cleanup
  Then free the space (without -m: -m would also delete untagged manifests this tool kept):
    sudo gitlab-ctl registry-garbage-collect

Password or token, in this order: -c file, --password, $${PASSWORD_ENV},
a prompt on a terminal, else the first line of standard input.

Environment: every option can also be set as GITLAB_REGISTRY_CLEANUP_<OPTION>, the long flag
in upper snake case (a flag on the command line wins), e.g. GITLAB_REGISTRY_CLEANUP_GITLAB_SERVER,
GITLAB_REGISTRY_CLEANUP_REGISTRY_SERVER, GITLAB_REGISTRY_CLEANUP_CREDENTIALS_FILE,
GITLAB_REGISTRY_CLEANUP_MIN_AGE=7d, GITLAB_REGISTRY_CLEANUP_DRY_RUN=1, GITLAB_REGISTRY_CLEANUP_JSON=1.
Switches take 1/true/yes/on or 0/false/no/off. NO_COLOR turns colour off.

Exit codes:
  0    done (also when nothing needed deleting, or repositories were only reported)
  1    some deletions failed, or the registry has deletes disabled
  2    usage or input error
  3    refused by a safety check (metadata database, storage driver, -p not this registry's storage, --max-delete,
       --gc on files garbage collection will fail on: the deletions are made, garbage collection is not started)
  4    authentication failed, or no permission to delete in any repository
  130  interrupted
`;

/**
 * Builds the program. `run` receives the raw options of the cleanup command and whether each was
 * typed on the command line (the environment fills the others).
 */
export function buildProgram(version: string, run: (raw: RawOptions, fromCommandLine: (key: string) => boolean) => Promise<void>): Command {
  const program = new Command("gitlab-registry-cleanup")
    .description(
      "Delete untagged, unreferenced manifests from a self-managed GitLab container registry, " +
        "so that `gitlab-ctl registry-garbage-collect` can free their layers.",
    )
    .version(version, "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "show this help")
    .option("-g, --gitlab-server <host>", "GitLab hostname or URL, e.g. gitlab.example.com")
    .option("-r, --registry-server <host>", "registry hostname or URL, e.g. registry.example.com")
    .option("-p, --registry-path <path>", `registry storage root on this machine (default: the registry config's rootdirectory, else ${DEFAULT_REGISTRY_PATH})`)
    .option("--storage <url>", "a registry on S3 whose config is not at --registry-config: s3://<bucket>/<rootdirectory>")
    .option("--s3-endpoint <url>", "with --storage: the S3-compatible server's URL (default: AWS)")
    .option("--s3-region <region>", "with --storage: the bucket's region (default: us-east-1)")
    .option("-c, --credentials-file <file>", "file with the username (line 1) and password or token (line 2)")
    .option("-u, --user <name>", "GitLab username", DEFAULT_USER)
    .addOption(new Option("--password <secret>", "password or token (visible in the process list; prefer -c)"))
    .option("-n, --dry-run", "show what would be deleted, delete nothing")
    .option("-k, --insecure", "allow http:// URLs and skip TLS certificate verification")
    .option("--min-age <duration>", "keep untagged manifests younger than this (0 disables)", DEFAULT_MIN_AGE)
    .option("--concurrency <n>", `DELETE requests in flight (1-${MAX_CONCURRENCY})`, String(DEFAULT_CONCURRENCY))
    .option("-y, --yes", "do not ask for confirmation on a terminal")
    .option("--registry-config <path>", "registry config.yml: its storage (filesystem or s3) is read, and it is checked for the metadata database", DEFAULT_REGISTRY_CONFIG)
    .option("--ca-cert <file>", "PEM file with the CA that signed the GitLab and registry certificates")
    .option("--journal <path>", "where to record deleted manifests for restore (default: ~/.local/state/gitlab-registry-cleanup/journal-<run>.jsonl)")
    .option("--json", "write the plan and outcome as one JSON document on stdout (text goes to stderr)")
    .option("--output <file>", "also write the JSON document to this file")
    .option("-q, --quiet", "print only the summary and errors")
    .option("-v, --verbose", "also print every kept manifest with its reason")
    .option("--no-color", "no colour (also off when not on a terminal, or with NO_COLOR)")
    .option("--gc", "after deleting, run garbage collection and report the space actually freed")
    .option("--gc-command <command>", "the garbage collection --gc runs", DEFAULT_GC_COMMAND)
    .option("--force-gc", "with --gc: run garbage collection even when the scan found files it will fail on (otherwise exit 3)")
    .option("--repository <glob>", "only repositories matching this path glob, e.g. 'group/**' (repeatable)", collect)
    .option("--exclude-repository <glob>", "leave out repositories matching this glob (repeatable; wins over --repository)", collect)
    .option("--keep-n <n>", "tag retention: keep the n most recently pushed tags of each repository")
    .option("--older-than <duration>", "tag retention: delete only tags pushed longer ago than this (e.g. 14d)")
    .option("--name-regex-delete <regex>", "tag retention: only tags whose whole name matches may go (default .* once a rule is given)")
    .option("--name-regex-keep <regex>", "tag retention: tags whose whole name matches are kept")
    .option("--policy-file <file.yml>", "tag retention rules per repository (docs/retention.md)")
    .option("--gitlab-policies", "tag retention: each project's own cleanup policy, from GitLab (needs a token with api)")
    .option("--delete-empty-repositories", "after the run, delete in GitLab each repository left with no tag and no manifest (needs a token with api)")
    .option("--max-delete <n|p%>", "refuse the run if it would delete more than n tags, or p% of one repository's (default with retention: 50%)")
    .addHelpText("after", HELP_AFTER)
    .showHelpAfterError("(run with --help for usage)")
    // A mistyped `--passwd=<secret>` would be echoed whole: never print an option's value.
    .configureOutput({ outputError: (text, write) => write(redactOptionValues(text)) })
    .action(async (raw: RawOptions, command: Command) => run(raw, (key) => command.getOptionValueSource(key) === "cli"));
  return program;
}

/** Commander's way to make a flag repeatable: each value appended to the list. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `unknown option '--passwd=S3cret'` -> `unknown option '--passwd=…'`. */
export function redactOptionValues(text: string): string {
  return text.replace(/('--?[^'=\s]+)=[^']*'/g, "$1=…'");
}
