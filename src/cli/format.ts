/** Number formatting for people. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** `0 B`, `512 B`, `3.77 MiB`, `1.20 TiB`: binary units, as `du -h` counts. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${UNITS[unit]}`;
}

/** `1,234,567`: grouped for reading. */
export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}
