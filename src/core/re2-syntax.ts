/**
 * GitLab matches tag names with RE2 (Gitlab::UntrustedRegexp); this tool with JavaScript's RegExp.
 * Both read the everyday syntax the same way: literals, `.`, classes, groups, alternation, greedy
 * and lazy quantifiers, `\d \w \s \b`, `^ $`. Where they differ, a rule must not quietly mean
 * something else here than in GitLab, so:
 * - refused, as RE2 refuses them: lookarounds `(?= (?! (?<= (?<!`, backreferences `\1 \k<n> (?P=n)`;
 * - refused, as JavaScript (without the `u` flag) would read them differently or not at all: `\pL
 *   \p{…}`, `\Q…\E`, `\x{…}`, `\0`, letters RE2 does not escape (`\Z \C \u \c …`), POSIX classes
 *   `[[:alpha:]]`, and inline flags anywhere but at the very start;
 * - translated: `\A` and `\z` (RE2's text anchors), `(?P<name>` named groups, a leading `(?i)`,
 *   `(?s)` or `(?m)`, and a `]` first in a class (a literal in RE2, an empty class in JavaScript).
 * Not checked: repetition counts above 1000 (RE2 refuses them), and RE2's linear time: nested
 * quantifiers such as `(a+)+b` can take exponential time here, though on a tag name (128
 * characters at most) only a deliberately bad pattern gets there.
 */

/** A compiled pattern, or why GitLab's RE2 would refuse it or this tool cannot match it alike. */
export type Re2Compiled = { regex: RegExp } | { problem: string };

/** How to match: the whole name (GitLab's `\A…\z` cleanup regexes) or anywhere (protection rules). */
export type Re2Mode = "whole-name" | "search";

/** Compiles an RE2 pattern into an equivalent RegExp, or says why that cannot be done. Never throws. */
export function compileRe2(source: string, mode: Re2Mode): Re2Compiled {
  const translated = translate(source);
  if ("problem" in translated) return translated;
  const body = mode === "whole-name" ? `^(?:${translated.body})$` : translated.body;
  try {
    return { regex: new RegExp(body, translated.flags) };
  } catch (error) {
    // "Invalid regular expression: /…/: Unterminated group": keep the part after the pattern.
    const message = error instanceof Error ? error.message : String(error);
    return { problem: message.slice(message.lastIndexOf(": ") + 2).toLowerCase() };
  }
}

const LEADING_FLAGS = /^\(\?([ims]+)\)/;
const NOTHING_BEFORE = "(?<![\\s\\S])";
const NOTHING_AFTER = "(?![\\s\\S])";

type Piece = { text: string; length: number } | { problem: string };

function translate(source: string): { body: string; flags: string } | { problem: string } {
  const leading = LEADING_FLAGS.exec(source);
  const flags = leading ? [...new Set(leading[1])].sort().join("") : "";
  const text = leading ? source.slice(leading[0].length) : source;
  let body = "";
  let inClass = false;
  for (let i = 0; i < text.length; ) {
    const piece = inClass ? classPiece(text, i) : plainPiece(text, i);
    if ("problem" in piece) return piece;
    if (!inClass && text[i] === "[") inClass = true;
    else if (inClass && text[i] === "]") inClass = false;
    body += piece.text;
    i += piece.length;
  }
  return { body, flags };
}

function plainPiece(text: string, i: number): Piece {
  const c = text[i]!;
  if (c === "\\") return escapePiece(text, i, false);
  if (c === "(" && text[i + 1] === "?") return groupPiece(text.slice(i, i + 4));
  if (c !== "[") return { text: c, length: 1 };
  // RE2 (like POSIX) reads a `]` right after `[` or `[^` as a literal; JavaScript as the class's end.
  const negated = text[i + 1] === "^";
  const start = negated ? "[^" : "[";
  return text[i + start.length] === "]"
    ? { text: `${start}\\]`, length: start.length + 1 }
    : { text: start, length: start.length };
}

function classPiece(text: string, i: number): Piece {
  const c = text[i]!;
  if (c === "\\") return escapePiece(text, i, true);
  if (c === "[" && text[i + 1] === ":") return { problem: "POSIX classes such as [[:alpha:]] are not supported here" };
  return { text: c, length: 1 };
}

function groupPiece(start: string): Piece {
  if (start.startsWith("(?:")) return { text: "(?:", length: 3 };
  if (start.startsWith("(?P<")) return { text: "(?<", length: 4 };
  if (/^\(\?(?:[=!]|<[=!])/.test(start)) return { problem: "RE2 does not support lookahead or lookbehind" };
  if (start.startsWith("(?P=")) return { problem: "RE2 does not support backreferences" };
  if (start.startsWith("(?<")) return { text: "(?<", length: 3 };
  if (/^\(\?[-a-zA-Z]/.test(start)) return { problem: "inline flags such as (?i) are supported only at the very start" };
  return { text: "(?", length: 2 }; // JavaScript rejects the rest as an invalid group
}

/** Escapes that mean the same in RE2 and in JavaScript without the `u` flag. */
const SAME_ESCAPES = new Set("dDwWsSbBfnrtv");

function escapePiece(text: string, i: number, inClass: boolean): Piece {
  const next = text[i + 1];
  if (next === undefined) return { text: "\\", length: 1 }; // JavaScript: "\ at end of pattern"
  if (!/[0-9A-Za-z]/.test(next) || SAME_ESCAPES.has(next)) return { text: `\\${next}`, length: 2 };
  if (!inClass && next === "A") return { text: NOTHING_BEFORE, length: 2 };
  if (!inClass && next === "z") return { text: NOTHING_AFTER, length: 2 };
  if (next === "x" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 2, i + 4))) return { text: "\\x", length: 2 };
  if (/[1-9]/.test(next) || next === "k") return { problem: "RE2 does not support backreferences" };
  if (next === "x" && text[i + 2] !== "{") return { problem: "\\x needs two hex digits" };
  return { problem: `\\${next}${next === "x" ? "{…}" : ""} is not supported here` };
}
