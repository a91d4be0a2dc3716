/**
 * Durations as people type them on the command line (`--min-age 24h`) and as the report shows
 * them. Pure: no clock.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Units accepted by parseDuration, largest first: components must appear in this order. */
const PARSE_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["w", WEEK],
  ["d", DAY],
  ["h", HOUR],
  ["m", MINUTE],
  ["s", SECOND],
];

/** Units used by formatDuration. Weeks are left out: "14d" reads better than "2w". */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = PARSE_UNITS.slice(1);

const COMPONENT = /^(\d+)([a-z])\s*/;

/**
 * Parses a duration such as `0`, `90s`, `30m`, `24h`, `7d`, `2w`, `1h30m` or `1h 30m` into ms.
 *
 * Returns undefined for anything else. A bare number other than 0 is refused on purpose: `--min-age
 * 24` could mean seconds or hours, and guessing wrong on a grace period deletes manifests that are
 * still being pushed. Units must appear largest first, each at most once, so a typo such as
 * `30m1h` is refused rather than silently summed.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text.trim();
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0;
  let nextUnit = 0;
  while (rest !== "") {
    const match = COMPONENT.exec(rest);
    if (!match) return undefined;
    const unitIndex = PARSE_UNITS.findIndex(([unit]) => unit === match[2]);
    if (unitIndex < nextUnit) return undefined; // unknown unit (-1), repeated or out of order
    total += Number(match[1]) * PARSE_UNITS[unitIndex]![1];
    nextUnit = unitIndex + 1;
    rest = rest.slice(match[0].length);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Formats ms for people with the largest unit and, when not zero, the next one:
 * `45s`, `3h 12m`, `2d 4h`, `1d` (for 1d 0h 5m: the minutes no longer matter at that scale).
 * Below one second gives `0s`; negative durations (clock skew) keep their sign.
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const index = FORMAT_UNITS.findIndex(([, size]) => ms >= size);
  if (index === -1) return "0s";
  const [unit, size] = FORMAT_UNITS[index]!;
  const whole = Math.floor(ms / size);
  const next = FORMAT_UNITS[index + 1];
  if (!next) return `${whole}${unit}`;
  const remainder = Math.floor((ms - whole * size) / next[1]);
  return remainder === 0 ? `${whole}${unit}` : `${whole}${unit} ${remainder}${next[0]}`;
}
