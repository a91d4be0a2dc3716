/** Blob keys (see core/space.ts) in sorted typed arrays: set operations without a Set's overhead. */

/** Sorted, without repeats. */
export function distinct(keys: Iterable<number>): Float64Array {
  return distinctInPlace(Float64Array.from(keys));
}

/** Sorts `keys` in place and returns the prefix that holds each key once. */
export function distinctInPlace(keys: Float64Array): Float64Array {
  keys.sort();
  let write = 0;
  for (let read = 0; read < keys.length; read++) {
    if (read === 0 || keys[read] !== keys[write - 1]) keys[write++] = keys[read]!;
  }
  return keys.subarray(0, write);
}

export function contains(sorted: Float64Array, key: number): boolean {
  return indexOf(sorted, key) >= 0;
}

/** The position of `key` in `sorted` (the first, if repeated), or -1. */
export function indexOf(sorted: Float64Array, key: number): number {
  const at = lowerBound(sorted, key);
  return sorted[at] === key ? at : -1;
}

/** How many times `key` is in `sorted` (repeats allowed). */
export function occurrences(sorted: Float64Array, key: number): number {
  return lowerBound(sorted, key + 1) - lowerBound(sorted, key);
}

/** The first position in `sorted` whose key is not below `key` (its length when none). */
export function lowerBound(sorted: Float64Array, key: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
