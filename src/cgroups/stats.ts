// From cgroup samples to what `diyc stats` shows, as docker stats shows it:
//   - memory "usage" leaves out inactive page cache (inactive_file), which the
//     kernel drops first and at no cost, so usage does not creep towards the
//     limit just because the container read files;
//   - CPU % is CPU time used between two samples over the wall time between
//     them: 100% is one full CPU, 200% two.

import type { CgroupStats } from "./types";

export interface StatsView {
  name: string;
  /** undefined without a previous sample. */
  cpuPercent?: number;
  memoryUsageBytes?: number;
  /** undefined: no limit (or no memory controller). */
  memoryLimitBytes?: number;
  memoryPercent?: number;
  pids?: number;
  pidsLimit?: number;
}

export function statsView(name: string, current: CgroupStats, previous?: CgroupStats): StatsView {
  const view: StatsView = { name };
  if (previous?.cpu !== undefined && current.cpu !== undefined) {
    const wallNs = current.sampledAtNs - previous.sampledAtNs;
    if (wallNs > 0) view.cpuPercent = (Math.max(0, current.cpu.usageNs - previous.cpu.usageNs) / wallNs) * 100;
  }
  if (current.memory !== undefined) {
    const { usageBytes, inactiveFileBytes, limitBytes } = current.memory;
    view.memoryUsageBytes = Math.max(0, usageBytes - inactiveFileBytes);
    if (limitBytes !== undefined) {
      view.memoryLimitBytes = limitBytes;
      view.memoryPercent = limitBytes > 0 ? (view.memoryUsageBytes / limitBytes) * 100 : 0;
    }
  }
  if (current.pids !== undefined) {
    view.pids = current.pids.current;
    view.pidsLimit = current.pids.limit;
  }
  return view;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5KiB", as docker prints sizes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(2).replace(/\.?0+$/, "")}${UNITS[unit]}`;
}

const percent = (p: number | undefined) => (p === undefined ? "--" : `${p.toFixed(2)}%`);

/** The `diyc stats` table: a header line and one line per container, columns aligned. */
export function formatStatsTable(rows: readonly StatsView[]): string {
  const table = [
    ["NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"],
    ...rows.map((r) => [
      r.name,
      percent(r.cpuPercent),
      r.memoryUsageBytes === undefined
        ? "--"
        : `${formatBytes(r.memoryUsageBytes)} / ${r.memoryLimitBytes === undefined ? "unlimited" : formatBytes(r.memoryLimitBytes)}`,
      percent(r.memoryPercent),
      r.pids === undefined ? "--" : `${r.pids}${r.pidsLimit === undefined ? "" : ` / ${r.pidsLimit}`}`,
    ]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((line) => line[col]!.length)));
  return table.map((line) => line.map((cell, col) => cell.padEnd(widths[col]!)).join("   ").trimEnd()).join("\n");
}

/** `diyc stats --format json`: one array, numbers unformatted, null where unknown or unlimited. */
export function statsJson(rows: readonly StatsView[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      name: r.name,
      cpu_percent: r.cpuPercent ?? null,
      memory_usage_bytes: r.memoryUsageBytes ?? null,
      memory_limit_bytes: r.memoryLimitBytes ?? null,
      memory_percent: r.memoryPercent ?? null,
      pids: r.pids ?? null,
      pids_limit: r.pidsLimit ?? null,
    })),
  );
}
