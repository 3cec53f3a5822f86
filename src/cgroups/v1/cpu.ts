// v1 cpu controller: CFS bandwidth (quota per period) and shares.
//
// The period is written before the quota: the quota is measured against it,
// and a quota written under the old period would briefly mean a different
// share of a CPU. Shares are a relative weight and only matter when CPUs are
// contended.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import { needsCpu } from "../needs";
import type { V1Controller } from "./controller";

export const cpuV1: V1Controller = {
  name: "cpu",
  needed: needsCpu,

  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    const cpu = resources.cpu;
    if (cpu === undefined) return;
    if (cpu.shares !== undefined) fs.write(join(dir, "cpu.shares"), String(cpu.shares));
    if (cpu.period !== undefined) fs.write(join(dir, "cpu.cfs_period_us"), String(cpu.period));
    if (cpu.quota !== undefined) fs.write(join(dir, "cpu.cfs_quota_us"), String(cpu.quota));
  },
};
