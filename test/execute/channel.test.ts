/** The queue between the scan and a dry run's executor. */
import { describe, expect, it } from "vitest";
import { Channel } from "../../src/execute/channel.js";

describe("Channel", () => {
  it("gives what was pushed, waiting for more until closed", async () => {
    const channel = new Channel<number>();
    channel.push(1);
    const taken: number[] = [];
    const done = (async () => {
      for await (const item of channel) taken.push(item);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(taken).toEqual([1]);
    channel.push(2);
    channel.push(3);
    channel.close();
    await done;
    expect(taken).toEqual([1, 2, 3]);
  });

  it("throws the producer's error after what was pushed before it", async () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.fail(new Error("the scan failed"));
    const taken: number[] = [];
    await expect((async () => {
      for await (const item of channel) taken.push(item);
    })()).rejects.toThrow("the scan failed");
    expect(taken).toEqual([1]);
  });

  it("drains what was not taken, without waiting or throwing", () => {
    const channel = new Channel<number>();
    channel.push(1);
    channel.push(2);
    channel.fail(new Error("ignored"));
    expect(channel.length).toBe(2);
    expect(channel.drain()).toEqual([1, 2]);
    expect(channel.length).toBe(0);
  });
});
