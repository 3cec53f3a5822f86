// The cgroups library: resource limits for containers, on cgroup v1 and v2
// behind one interface. See docs/cgroups.md.
//
// How the runtime uses it:
//   const cgroups = detectCgroupManager({ parent: "diyc" });   // once per host
//   const cgroup = cgroups.create(name, spec.linux.resources);  // child waits on the sync fd
//   cgroup.addProcess(childPid);                                 // before any container code runs
//   ... release the child; later: cgroup.stats(), cgroup.oomKilled()
//   cgroups.open(name)?.remove();                                // when the container has ended

export type { Cgroup, CgroupId, CgroupManager, CgroupStats } from "./types";
export { CgroupError } from "./errors";
export { type CgroupFs, hostCgroupFs, tracedCgroupFs } from "./fs";
export { detectCgroupManager, parseCgroupMounts, type CgroupMounts, type DetectOptions } from "./detect";
export { V1CgroupManager, type V1Options } from "./v1/index";
export { V2CgroupManager, type V2Options } from "./v2/index";
export { DEFAULT_DEVICE_RULES, deviceRuleText, type DeviceRule } from "./device-rules";
export { sharesToWeight } from "./v2/cpu";
export { statsView, type StatsView } from "./stats";
