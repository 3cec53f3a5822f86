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
