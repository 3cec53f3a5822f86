// The pure parts of the lifecycle: restart decisions, the monitor's log
// format, tails across streams, signal names.

import { describe, expect, test } from "bun:test";
import { parseSignal } from "../../src/linux/signals";
import { UsageError } from "../../src/linux/errors";
import { parseLogRecords, tailLines } from "../../src/runtime/logs";
import { decideRestart } from "../../src/runtime/restart-policy";
import { parseRestart } from "../../src/cli/run";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: { stream: string; data: Uint8Array }[]) => chunks.map((c) => `${c.stream[3]}:${new TextDecoder().decode(c.data)}`).join("|");

describe("restart policies", () => {
  test("no, always, on-failure with and without a limit; stop wins", () => {
    expect(decideRestart({ policy: "no" }, 1, 0, false).restart).toBe(false);
    expect(decideRestart({ policy: "always" }, 0, 5, false)).toEqual({ restart: true, delayMs: 3200, restartCount: 6 });
    expect(decideRestart({ policy: "on-failure" }, 0, 0, false).restart).toBe(false);
    expect(decideRestart({ policy: "on-failure" }, 2, 0, false).restart).toBe(true);
    expect(decideRestart({ policy: "on-failure", maxRetries: 2 }, 1, 2, false).restart).toBe(false);
    expect(decideRestart({ policy: "always" }, 1, 0, true).restart).toBe(false);
  });
  test("the delay doubles and is capped", () => {
    expect([0, 1, 2, 10].map((n) => decideRestart({ policy: "always" }, 1, n, false).delayMs)).toEqual([100, 200, 400, 10_000]);
  });
  test("--restart values", () => {
    expect(parseRestart("on-failure:3")).toEqual({ policy: "on-failure", maxRetries: 3 });
    expect(() => parseRestart("on-failure:x")).toThrow(UsageError);
    expect(() => parseRestart("sometimes")).toThrow(UsageError);
  });
});

describe("log records", () => {
  test("records keep streams apart and bytes exact; a half-written record waits", () => {
    const { chunks, consumed } = parseLogRecords(bytes("o6\nhello\ne4\nerr\no5\npart"));
    expect(text(chunks)).toBe("o:hello\n|e:err\n");
    expect(consumed).toBe("o6\nhello\ne4\nerr\n".length);
  });
  test("a corrupt record is an error, not garbage output", () => {
    expect(() => parseLogRecords(bytes("x3\nabc"))).toThrow("corrupt log record");
  });
  test("--tail counts lines across both streams, in order", () => {
    const { chunks } = parseLogRecords(bytes("o8\na\nb\nc\nd\ne4\nerr\no2\nz\n"));
    expect(text(tailLines(chunks, 3))).toBe("o:d\n|e:err\n|o:z\n");
    expect(tailLines(chunks, 0)).toEqual([]);
  });
});

describe("signals", () => {
  test("names, SIG names and numbers", () => {
    expect([parseSignal("TERM"), parseSignal("sigkill"), parseSignal("1"), parseSignal("SIGUSR1")]).toEqual([15, 9, 1, 10]);
    expect(() => parseSignal("NOPE")).toThrow(UsageError);
    expect(() => parseSignal("99")).toThrow(UsageError);
  });
});

describe("log times", () => {
  test("records carry the time they were read; older records without it still parse", async () => {
    const { parseLogRecords, parseSince, splitLines } = await import("../../src/runtime/logs");
    const bytes = Buffer.from("o6@1000\nab\ncd\ne2\nxy");
    const { chunks } = parseLogRecords(bytes);
    expect(chunks.map((c) => [c.stream, Buffer.from(c.data).toString(), c.timeMs])).toEqual([["stdout", "ab\ncd\n", 1000], ["stderr", "xy", undefined]]);
    expect(splitLines(chunks).map((c) => [Buffer.from(c.data).toString(), c.timeMs])).toEqual([["ab\n", 1000], ["cd\n", 1000], ["xy", undefined]]);
    expect(parseSince("10m", 1_000_000)).toBe(1_000_000 - 600_000);
    expect(parseSince("1h30m", 10_000_000)).toBe(10_000_000 - 5_400_000);
    expect(parseSince("1796200000.5", 0)).toBe(1796200000500);
    expect(parseSince("2026-12-02T09:00:00Z", 0)).toBe(Date.parse("2026-12-02T09:00:00Z"));
    expect(parseSince("nonsense", 0)).toBeUndefined();
  });
});
