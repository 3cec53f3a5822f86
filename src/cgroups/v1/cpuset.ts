// v1 cpuset controller: which CPUs and memory nodes the container may use.
//
// The pitfall: a new v1 cpuset cgroup starts with cpuset.cpus and cpuset.mems
// EMPTY (unless the parent has cgroup.clone_children set), and the kernel
// refuses to attach a process to a cpuset with no CPUs or no memory nodes:
// writing cgroup.procs fails with ENOSPC. So every directory diyc makes or
// passes through gets its parent's values copied down before anything else,
// from the hierarchy's root to the container. Only then is --cpuset-cpus
// written, and it must be a subset of the parent's (else EINVAL).

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import { needsCpuset } from "../needs";
import type { V1Controller } from "./controller";

export const cpusetV1: V1Controller = {
  name: "cpuset",
  needed: needsCpuset,

  prepare(fs: CgroupFs, dir: string, parentDir: string) {
    // cpus before mems is arbitrary; both must be set before a process joins.
    for (const file of ["cpuset.cpus", "cpuset.mems"]) fs.copyIfEmpty(join(dir, file), join(parentDir, file));
  },

  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    if (resources.cpu?.cpus !== undefined) fs.write(join(dir, "cpuset.cpus"), resources.cpu.cpus);
    if (resources.cpu?.mems !== undefined) fs.write(join(dir, "cpuset.mems"), resources.cpu.mems);
  },
};
