import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/core/duration.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("parseDuration", () => {
  it.each([
    ["0", 0],
    [" 0 ", 0],
    ["0s", 0],
    ["0h", 0],
    ["90s", 90 * S],
    ["30m", 30 * M],
    ["24h", 24 * H],
    ["7d", 7 * D],
    ["2w", 14 * D],
    ["1h30m", H + 30 * M],
    ["1h 30m", H + 30 * M],
    ["1w2d3h4m5s", 7 * D + 2 * D + 3 * H + 4 * M + 5 * S],
    ["3h 12m", 3 * H + 12 * M], // what formatDuration prints reads back
  ])("%j -> %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ["", "empty"],
    ["  ", "blank"],
    ["24", "a bare number other than 0 is ambiguous"],
    ["1h30", "a trailing bare number is ambiguous"],
    ["30m1h", "units out of order"],
    ["1h1h", "a unit repeated"],
    ["1y", "unknown unit"],
    ["500ms", "milliseconds are not a unit here"],
    ["1H", "units are lowercase"],
    ["-1h", "negative"],
    ["1.5h", "fractions"],
    ["h", "a unit without a number"],
    ["1 h", "a space between number and unit"],
    ["99999999999999999999w", "too large to be exact"],
  ])("%j is refused (%s)", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [45 * S, "45s"],
    [90 * S, "1m 30s"],
    [30 * M, "30m"],
    [3 * H + 12 * M + 40 * S, "3h 12m"],
    [24 * H, "1d"],
    [2 * D + 4 * H + 59 * M, "2d 4h"],
    [D + 5 * M, "1d"],
    [14 * D, "14d"],
    [-90 * S, "-1m 30s"],
  ])("%d ms -> %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
