/** Colour for the terminal, only when it is wanted: a TTY, no NO_COLOR, no --no-color. */

export interface Style {
  error(text: string): string;
  warning(text: string): string;
  success(text: string): string;
  bold(text: string): string;
}

const wrap = (open: number, close: number) => (text: string): string => `\x1b[${open}m${text}\x1b[${close}m`;

const COLOURS: Style = { error: wrap(31, 39), warning: wrap(33, 39), success: wrap(32, 39), bold: wrap(1, 22) };
const PLAIN: Style = { error: (t) => t, warning: (t) => t, success: (t) => t, bold: (t) => t };

/** The style for a stream. https://no-color.org: any non-empty NO_COLOR turns colour off. */
export function styleFor(isTTY: boolean, colorOption: boolean, env: Readonly<Record<string, string | undefined>>): Style {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  return isTTY && colorOption && !noColor ? COLOURS : PLAIN;
}
