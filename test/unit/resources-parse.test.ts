import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/linux/errors";
import { parseResourceFlags, type ResourceFlagValues } from "../../src/spec/resources";

const machine = { onlineCpus: 2 };
const MiB = 1024 * 1024;
const parse = (values: ResourceFlagValues) => parseResourceFlags(values, machine);

describe("parseResourceFlags: good values", () => {
  test("no flags: no resources", () => {
    expect(parse({})).toEqual({});
  });

  test.each([
    ["512", 512 * MiB],
    ["512m", 512 * MiB],
    ["512M", 512 * MiB],
    ["1g", 1024 * MiB],
    ["1G", 1024 * MiB],
    ["1.5g", 1536 * MiB],
    ["65536k", 64 * MiB],
    ["8388608b", 8 * MiB],
    ["6", 6 * MiB],
  ])("--mem %s is %d bytes, swap disabled (swap = limit)", (text, bytes) => {
    expect(parse({ memory: text })).toEqual({ memory: { limit: bytes, swap: bytes } });
  });

  test("--memory-swap is the total, and -1 is unlimited", () => {
    expect(parse({ memory: "64m", memorySwap: "128m" }).memory).toEqual({ limit: 64 * MiB, swap: 128 * MiB });
    expect(parse({ memory: "64m", memorySwap: "64m" }).memory).toEqual({ limit: 64 * MiB, swap: 64 * MiB });
    expect(parse({ memory: "64m", memorySwap: "-1" }).memory).toEqual({ limit: 64 * MiB, swap: -1 });
  });

  test("--cpus: quota over a 100 ms period", () => {
    expect(parse({ cpus: "1.5" }).cpu).toEqual({ quota: 150_000, period: 100_000 });
    expect(parse({ cpus: "0.5" }).cpu).toEqual({ quota: 50_000, period: 100_000 });
    expect(parse({ cpus: "2" }).cpu).toEqual({ quota: 200_000, period: 100_000 });
    expect(parse({ cpus: "0.01" }).cpu).toEqual({ quota: 1000, period: 100_000 });
  });

  test("--cpu-shares, --cpuset-cpus and --pids-limit", () => {
    expect(parse({ cpuShares: "2" }).cpu).toEqual({ shares: 2 });
    expect(parse({ cpuShares: "262144" }).cpu).toEqual({ shares: 262144 });
    expect(parse({ cpusetCpus: "0-1" }).cpu).toEqual({ cpus: "0-1" });
    expect(parseResourceFlags({ cpusetCpus: "0-1, 3" }, { onlineCpus: 4 }).cpu).toEqual({ cpus: "0-1,3" });
    expect(parse({ pidsLimit: "10" }).pids).toEqual({ limit: 10 });
    expect(parse({ pidsLimit: "-1" }).pids).toEqual({ limit: -1 });
  });

  test("all together", () => {
    expect(parse({ memory: "1g", cpus: "1", cpuShares: "512", cpusetCpus: "1", pidsLimit: "100" })).toEqual({
      memory: { limit: 1024 * MiB, swap: 1024 * MiB },
      cpu: { quota: 100_000, period: 100_000, shares: 512, cpus: "1" },
      pids: { limit: 100 },
    });
  });
});

describe("parseResourceFlags: bad values are one-line UsageErrors (exit 125)", () => {
  const bad: Array<[string, ResourceFlagValues, RegExp]> = [
    ["mem abc", { memory: "abc" }, /^invalid --mem "abc": use megabytes/],
    ["mem negative", { memory: "-5" }, /^invalid --mem "-5": it must not be negative$/],
    ["mem -1", { memory: "-1" }, /must not be negative/],
    ["mem empty", { memory: "" }, /^invalid --mem ""/],
    ["mem unknown unit", { memory: "5t" }, /^invalid --mem "5t"/],
    ["mem unit only", { memory: "m" }, /^invalid --mem "m"/],
    ["mem 5m (below 6 MiB)", { memory: "5m" }, /minimum memory limit is 6m/],
    ["mem 0", { memory: "0" }, /minimum memory limit is 6m/],
    ["mem too large", { memory: "99999999999999g" }, /too large/],
    ["swap below mem", { memory: "64m", memorySwap: "32m" }, /^invalid --memory-swap "32m": .*at least --mem/],
    ["swap negative", { memory: "64m", memorySwap: "-2" }, /must not be negative/],
    ["swap abc", { memory: "64m", memorySwap: "abc" }, /^invalid --memory-swap "abc"/],
    ["swap without mem", { memorySwap: "1g" }, /^--memory-swap needs --mem/],
    ["cpus abc", { cpus: "abc" }, /^invalid --cpus "abc": use a number of CPUs/],
    ["cpus negative", { cpus: "-1" }, /must not be negative/],
    ["cpus zero", { cpus: "0" }, /more than 0/],
    ["cpus too small", { cpus: "0.001" }, /minimum is 0\.01/],
    ["cpus more than machine", { cpus: "3" }, /this machine has 2 CPUs/],
    ["cpus 2.5 on 2", { cpus: "2.5" }, /this machine has 2 CPUs/],
    ["shares abc", { cpuShares: "abc" }, /^invalid --cpu-shares "abc"/],
    ["shares 1", { cpuShares: "1" }, /from 2 to 262144/],
    ["shares too big", { cpuShares: "262145" }, /from 2 to 262144/],
    ["shares negative", { cpuShares: "-3" }, /must not be negative/],
    ["shares decimal", { cpuShares: "1.5" }, /^invalid --cpu-shares "1.5"/],
    ["cpuset beyond machine", { cpusetCpus: "0-2" }, /CPU 2 does not exist: this machine has CPUs 0-1/],
    ["cpuset garbage", { cpusetCpus: "a" }, /^invalid --cpuset-cpus "a"/],
    ["cpuset backwards", { cpusetCpus: "1-0" }, /runs backwards/],
    ["cpuset empty", { cpusetCpus: "" }, /use a list of CPUs/],
    ["cpuset trailing comma", { cpusetCpus: "0," }, /is not a CPU number/],
    ["cpuset negative", { cpusetCpus: "-1" }, /is not a CPU number/],
    ["pids 0", { pidsLimit: "0" }, /positive integer, or -1/],
    ["pids -5", { pidsLimit: "-5" }, /positive integer, or -1/],
    ["pids abc", { pidsLimit: "abc" }, /^invalid --pids-limit "abc"/],
    ["pids decimal", { pidsLimit: "2.5" }, /positive integer/],
    ["pids huge", { pidsLimit: "99999999999999999999" }, /positive integer/],
  ];
  test.each(bad)("%s", (_, values, message) => {
    let error: unknown;
    try {
      parse(values);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    const usage = error as UsageError;
    expect(usage.exitCode).toBe(125);
    expect(usage.message).toMatch(message);
    expect(usage.message).not.toContain("\n");
  });
});
