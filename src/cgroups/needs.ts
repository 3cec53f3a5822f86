// Which controller a set of limits needs, the same on v1 and v2. A driver
// refuses to create a cgroup whose limits need a controller the host lacks,
// rather than silently running the container without the limit.

import type { LinuxResources } from "../spec/resources";

export const needsMemory = (r: LinuxResources): boolean => r.memory?.limit !== undefined || r.memory?.swap !== undefined;

export const needsCpu = (r: LinuxResources): boolean =>
  r.cpu?.shares !== undefined || r.cpu?.quota !== undefined || r.cpu?.period !== undefined;

export const needsCpuset = (r: LinuxResources): boolean => r.cpu?.cpus !== undefined || r.cpu?.mems !== undefined;

export const needsPids = (r: LinuxResources): boolean => r.pids !== undefined;
