/** The scan's hand-over of planned repositories in listing order. */
import { describe, expect, it } from "vitest";
import { InOrder, numbered } from "../../src/execute/in-order.js";

describe("InOrder", () => {
  it("hands values on in index order, skipping indexes finished without one", () => {
    const released: string[] = [];
    const order = new InOrder<string>((value) => released.push(value));
    order.finish(2, "c");
    order.finish(1);
    expect(released).toEqual([]);
    expect(order.waiting).toBe(2);
    order.finish(0, "a");
    expect(released).toEqual(["a", "c"]);
    order.finish(4, "e");
    order.finish(3, "d");
    expect(released).toEqual(["a", "c", "d", "e"]);
    expect(order.waiting).toBe(0);
  });

  it("numbers what an async iterable yields", async () => {
    async function* names(): AsyncGenerator<string> {
      yield "a";
      yield "b";
    }
    const seen: Array<[number, string]> = [];
    for await (const entry of numbered(names())) seen.push(entry);
    expect(seen).toEqual([[0, "a"], [1, "b"]]);
  });
});
