/** The check every flag that takes a path shares (cleanup, restore, --policy-file). Pure. */
import { UsageError } from "../core/errors.js";

/**
 * A path flag's value, or undefined when the flag is absent. Empty is refused, and so is a value
 * starting with `-`: it is almost always the next flag swallowed (`--journal -n` would journal into
 * a file named "-n" and then delete for real); `./-n` still names such a file.
 */
export function pathValue(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`${flag} is empty: give a value or leave the flag out.`);
  if (value.startsWith("-")) {
    const long = flag.replace(/^-[a-z]\//i, "");
    throw new UsageError(
      `${flag} "${value}" looks like a flag, not a path: give ${flag} a value before the next flag, ` +
        `or write ${long}=./${value} if that really is the file's name.`,
    );
  }
  return value;
}
