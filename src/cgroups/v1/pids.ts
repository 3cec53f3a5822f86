// v1 pids controller: pids.max caps how many tasks (processes and threads) the
// cgroup may hold; fork and clone fail with EAGAIN at the cap. It is what stops
// a fork bomb in a container from taking the host's pid space.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { type CgroupFs, readLimit, readNumber } from "../fs";
import type { CgroupStats } from "../types";
import type { V1Controller } from "./controller";

export const pidsV1: V1Controller = {
  name: "pids",
  needed: (resources) => resources.pids !== undefined,
  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    if (resources.pids !== undefined) fs.write(join(dir, "pids.max"), pidsMaxValue(resources.pids.limit));
  },
  sample: samplePids,
};

/** The spec's -1 (and 0, "unset" in older specs) is the kernel's "max". Shared with v2: same file, same format. */
export function pidsMaxValue(limit: number): string {
  return limit <= 0 ? "max" : String(limit);
}

/** pids.current and pids.max read the same on v1 and v2. */
export function samplePids(fs: CgroupFs, dir: string, into: CgroupStats): void {
  into.pids = {
    current: readNumber(fs, join(dir, "pids.current")),
    limit: readLimit(fs, join(dir, "pids.max")),
  };
}
