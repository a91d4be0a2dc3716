import { describe, expect, it } from "vitest";
import { KeyList } from "../../src/core/key-list.js";
import { ReleasedKeys } from "../../src/core/released-keys.js";

/** Runs of sorted distinct keys, some shared between runs, some runs empty. */
function runs(seed: number, count: number): number[][] {
  let state = seed;
  const random = (n: number): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
  return Array.from({ length: count }, (_, run) => {
    const keys = new Set<number>();
    const size = run % 7 === 3 ? 0 : random(300);
    while (keys.size < size) keys.add(random(5000));
    return [...keys].sort((a, b) => a - b);
  });
}

function released(lists: number[][]): ReleasedKeys {
  const keys = new KeyList();
  const starts: number[] = [];
  for (const list of lists) {
    starts.push(keys.length);
    for (const key of list) keys.push(key);
  }
  return new ReleasedKeys(keys, starts);
}

function found(merge: ReleasedKeys, key: number): number[] {
  const hits: number[] = [];
  merge.find(key, (run) => hits.push(run));
  return hits.sort((a, b) => a - b);
}

const holders = (lists: number[][], key: number): number[] => lists.flatMap((list, run) => (list.includes(key) ? [run] : []));

describe("ReleasedKeys", () => {
  it("names every run that holds each key asked in order, repeats included", () => {
    const lists = runs(7, 60);
    const merge = released(lists);
    for (let key = 0; key < 5100; key += 1) {
      expect(found(merge, key)).toEqual(holders(lists, key));
      if (key % 97 === 0) expect(found(merge, key)).toEqual(holders(lists, key));
    }
  });

  it("starts again for a second ascending pass (a second digest algorithm), and answers out of order too", () => {
    const lists = runs(11, 40);
    const merge = released(lists);
    for (const pass of [0, 1]) for (let key = pass; key < 5000; key += 3) expect(found(merge, key)).toEqual(holders(lists, key));
    // Out of order: past a few restarts it searches each run, with the same answers.
    const shuffled = Array.from({ length: 400 }, (_, i) => (i * 7919) % 5000);
    for (const key of shuffled) expect(found(merge, key)).toEqual(holders(lists, key));
  });

  it("holds nothing when nothing was released", () => {
    expect(found(released([]), 5)).toEqual([]);
    expect(found(released([[], []]), 5)).toEqual([]);
  });
});
