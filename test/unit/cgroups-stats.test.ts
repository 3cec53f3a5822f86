import { describe, expect, test } from "bun:test";
import { statsView } from "../../src/cgroups";
import { formatBytes } from "../../src/cli/format";
import { formatStatsTable, statsJson } from "../../src/cli/stats";
import type { CgroupStats } from "../../src/cgroups";

const MiB = 1024 * 1024;
const first: CgroupStats = {
  sampledAtNs: 1_000_000_000,
  memory: { usageBytes: 30 * MiB, inactiveFileBytes: 10 * MiB, limitBytes: 80 * MiB },
  cpu: { usageNs: 5_000_000_000 },
  pids: { current: 3, limit: 10 },
};
const second: CgroupStats = { ...first, sampledAtNs: 3_000_000_000, cpu: { usageNs: 6_000_000_000 } };

describe("stats", () => {
  test("CPU % between two samples (100% = one CPU); memory without inactive file cache", () => {
    expect(statsView("web", second, first)).toEqual({
      name: "web",
      cpuPercent: 50,
      memoryUsageBytes: 20 * MiB,
      memoryLimitBytes: 80 * MiB,
      memoryPercent: 25,
      pids: 3,
      pidsLimit: 10,
    });
  });

  test("one sample: no CPU %; no limit: no memory %", () => {
    const view = statsView("db", { sampledAtNs: 1, memory: { usageBytes: 1536, inactiveFileBytes: 0 }, cpu: { usageNs: 1 } });
    expect(view).toEqual({ name: "db", memoryUsageBytes: 1536 });
  });

  test("table and JSON", () => {
    const rows = [statsView("web", second, first), statsView("db", { sampledAtNs: 1 })];
    expect(formatStatsTable(rows).split("\n")).toEqual([
      "NAME   CPU %    MEM USAGE / LIMIT   MEM %    PIDS",
      "web    50.00%   20MiB / 80MiB       25.00%   3 / 10",
      "db     --       --                  --       --",
    ]);
    expect(JSON.parse(statsJson(rows))).toEqual([
      {
        name: "web",
        cpu_percent: 50,
        memory_usage_bytes: 20 * MiB,
        memory_limit_bytes: 80 * MiB,
        memory_percent: 25,
        pids: 3,
        pids_limit: 10,
      },
      { name: "db", cpu_percent: null, memory_usage_bytes: null, memory_limit_bytes: null, memory_percent: null, pids: null, pids_limit: null },
    ]);
  });

  test("formatBytes", () => {
    expect(formatBytes(512)).toBe("512B");
    expect(formatBytes(1536)).toBe("1.5KiB");
    expect(formatBytes(64 * MiB)).toBe("64MiB");
    expect(formatBytes(1.25 * 1024 * MiB)).toBe("1.25GiB");
  });
});
