// v2 cpu controller: cpu.max ("QUOTA PERIOD", quota "max" = no cap) and
// cpu.weight (1..10000, default 100), which replaces v1's cpu.shares
// (2..262144, default 1024). The spec speaks shares, so we convert with the
// same formula runc and crun use, so one container gets the same weight under
// any runtime: weight = 1 + ((shares - 2) * 9999) / 262142.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { type CgroupFs, readKeyed } from "../fs";
import { needsCpu } from "../needs";
import type { V2Controller } from "./controller";

export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The kernel's default period, used when the spec gives a quota without one. */
const DEFAULT_PERIOD_US = 100_000;

export const cpuV2: V2Controller = {
  name: "cpu",
  needed: needsCpu,

  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    const cpu = resources.cpu;
    if (cpu === undefined) return;
    if (cpu.shares !== undefined) fs.write(join(dir, "cpu.weight"), String(sharesToWeight(cpu.shares)));
    if (cpu.quota !== undefined || cpu.period !== undefined) {
      // One write sets both, so there is no period-before-quota ordering as on v1.
      const quota = cpu.quota === undefined || cpu.quota <= 0 ? "max" : String(cpu.quota);
      fs.write(join(dir, "cpu.max"), `${quota} ${cpu.period ?? DEFAULT_PERIOD_US}`);
    }
  },
};

/** cpu.stat exists in every v2 cgroup, with or without the cpu controller. */
export function sampleCpuV2(fs: CgroupFs, dir: string): { usageNs: number } {
  return { usageNs: (readKeyed(fs, join(dir, "cpu.stat")).get("usage_usec") ?? 0) * 1000 };
}
