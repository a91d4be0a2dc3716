import { describe, expect, it } from "vitest";
import { RegistryError } from "../../src/registry/registry-error.js";
import {
  backoffDelay, classifyFailure, parseRetryAfter, sleep, withRetry, type RetryPolicy,
} from "../../src/registry/retry.js";

function httpFailure(status: number, retryAfter?: string): RegistryError {
  const extra = retryAfter ? { retryAfter } : {};
  return new RegistryError({ operation: "testing", status, message: `${status}`, ...extra });
}

function networkFailure(code: string): Error {
  return Object.assign(new Error(`network ${code}`), { code });
}

/** A policy that records waits instead of sleeping. */
function recordingPolicy(extra: RetryPolicy = {}): RetryPolicy & { waits: number[] } {
  const waits: number[] = [];
  return { waits, random: () => 1, sleep: async (ms) => void waits.push(ms), ...extra };
}

describe("classifyFailure", () => {
  it.each([
    [408, true], [429, true], [502, true], [503, true], [504, true],
    [500, false], [501, false], [400, false], [401, false], [403, false], [404, false], [405, false], [409, false],
  ])("status %i is retryable: %s", (status, retry) => {
    expect(classifyFailure(httpFailure(status)).retry).toBe(retry);
  });

  it.each([
    ["ECONNRESET", true], ["ECONNREFUSED", true], ["EPIPE", true], ["ETIMEDOUT", true], ["EAI_AGAIN", true],
    ["UND_ERR_SOCKET", true], ["UND_ERR_CONNECT_TIMEOUT", true], ["UND_ERR_HEADERS_TIMEOUT", true],
    ["UND_ERR_BODY_TIMEOUT", true], ["ENOTFOUND", false], ["DEPTH_ZERO_SELF_SIGNED_CERT", false],
    ["UND_ERR_ABORTED", false],
  ])("network code %s is retryable: %s", (code, retry) => {
    expect(classifyFailure(networkFailure(code)).retry).toBe(retry);
  });

  it("finds codes in the cause chain and inside AggregateError", () => {
    const wrapped = new Error("deleting x", { cause: networkFailure("ECONNRESET") });
    expect(classifyFailure(wrapped)).toEqual({ retry: true, reason: "ECONNRESET" });
    const aggregate = new AggregateError([networkFailure("ECONNREFUSED")], "connect failed");
    expect(classifyFailure(aggregate).retry).toBe(true);
  });

  it("does not retry a status error because its cause was a network error", () => {
    const error = Object.assign(httpFailure(401), { cause: networkFailure("ECONNRESET") });
    expect(classifyFailure(error).retry).toBe(false);
  });

  it("does not retry plain errors", () => {
    expect(classifyFailure(new Error("bug")).retry).toBe(false);
    expect(classifyFailure(undefined).retry).toBe(false);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it("reads delta-seconds", () => expect(parseRetryAfter("7", now)).toBe(7000));
  it("reads an HTTP-date", () => expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:12 GMT", now)).toBe(12_000));
  it("treats a past date as no wait", () => expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0));
  it("ignores garbage", () => expect(parseRetryAfter("soon", now)).toBeUndefined());
});

describe("backoffDelay", () => {
  it("grows exponentially up to the cap, scaled by the jitter", () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, policy))).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it("is full jitter: anywhere from zero", () => {
    expect(backoffDelay(3, { baseDelayMs: 100, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { baseDelayMs: 100, random: () => 0.5 })).toBe(200);
  });
});

describe("withRetry", () => {
  it("returns the first success", async () => {
    const policy = recordingPolicy();
    let calls = 0;
    const result = await withRetry(async () => (++calls < 3 ? Promise.reject(httpFailure(503)) : "ok"), policy);
    expect(result).toBe("ok");
    expect(calls).toBe(3);
    expect(policy.waits).toEqual([500, 1000]);
  });

  it("stops after the attempt bound and rethrows the last failure unchanged", async () => {
    const policy = recordingPolicy({ attempts: 4 });
    let calls = 0;
    const failure = httpFailure(502);
    await expect(withRetry(async () => { calls++; throw failure; }, policy)).rejects.toBe(failure);
    expect(calls).toBe(4);
    expect(policy.waits).toHaveLength(3);
  });

  it("defaults to five attempts", async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw networkFailure("ECONNRESET"); }, recordingPolicy()))
      .rejects.toThrow("ECONNRESET");
    expect(calls).toBe(5);
  });

  it("caps the backoff", async () => {
    const policy = recordingPolicy({ attempts: 8, baseDelayMs: 1000, maxDelayMs: 3000 });
    await expect(withRetry(async () => { throw httpFailure(504); }, policy)).rejects.toThrow();
    expect(policy.waits).toEqual([1000, 2000, 3000, 3000, 3000, 3000, 3000]);
  });

  it("never retries what will not change", async () => {
    for (const failure of [httpFailure(401), httpFailure(404), httpFailure(500), new Error("bug")]) {
      let calls = 0;
      await expect(withRetry(async () => { calls++; throw failure; }, recordingPolicy())).rejects.toBe(failure);
      expect(calls).toBe(1);
    }
  });

  it("waits exactly as long as Retry-After says, in seconds or as a date", async () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    const policy = recordingPolicy({ now: () => now });
    const failures = [httpFailure(429, "3"), httpFailure(503, "Wed, 01 Jan 2025 00:00:20 GMT")];
    await withRetry(async (attempt) => (attempt <= 2 ? Promise.reject(failures[attempt - 1]) : "ok"), policy);
    expect(policy.waits).toEqual([3000, 20_000]);
  });

  it("gives up rather than wait longer than maxRetryAfterMs", async () => {
    const policy = recordingPolicy({ maxRetryAfterMs: 10_000 });
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw httpFailure(429, "3600"); }, policy)).rejects.toThrow();
    expect(calls).toBe(1);
    expect(policy.waits).toEqual([]);
  });

  it("tells onRetry why it waits", async () => {
    const events: string[] = [];
    const policy = recordingPolicy({ onRetry: (e) => events.push(`${e.attempt}:${e.reason}:${e.delayMs}`) });
    await withRetry(async (attempt) => (attempt === 1 ? Promise.reject(httpFailure(503)) : 1), policy);
    expect(events).toEqual(["1:503 service unavailable:500"]);
  });

  it("stops waiting at once when aborted, with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("Ctrl-C");
    let calls = 0;
    const running = withRetry(async () => { calls++; throw httpFailure(503); }, {
      signal: controller.signal, baseDelayMs: 60_000, random: () => 1,
    });
    setTimeout(() => controller.abort(reason), 20);
    const started = Date.now();
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls).toBe(1);
  });

  it("does not start when already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("early"));
    let calls = 0;
    await expect(withRetry(async () => ++calls, { signal: controller.signal })).rejects.toThrow("early");
    expect(calls).toBe(0);
  });

  it("reports the abort rather than the failure it caused", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    await expect(withRetry(async () => {
      controller.abort(reason);
      throw networkFailure("ECONNRESET");
    }, { signal: controller.signal })).rejects.toBe(reason);
  });
});

describe("sleep", () => {
  it("resolves after the delay", async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});
