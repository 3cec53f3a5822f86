// v1 pids controller: pids.max caps how many tasks (processes and threads) the
// cgroup may hold; fork and clone fail with EAGAIN at the cap. It is what stops
// a fork bomb in a container from taking the host's pid space.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { type CgroupFs, readLimit, readNumber } from "../fs";
import { needsPids } from "../needs";
import type { CgroupStats } from "../types";
import type { V1Controller } from "./controller";

// `satisfies`, not a type annotation: the literal name "pids" lets v2 use this very object.
export const pidsV1 = {
  name: "pids" as const,
  needed: needsPids,
  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    if (resources.pids !== undefined) fs.write(join(dir, "pids.max"), pidsMaxValue(resources.pids.limit));
  },
  sample: samplePids,
} satisfies V1Controller;

/** The spec's -1 (and 0, "unset" in older specs) is the kernel's "max". */
function pidsMaxValue(limit: number): string {
  return limit <= 0 ? "max" : String(limit);
}

/** pids.current, and pids.max where "max" means no limit. */
function samplePids(fs: CgroupFs, dir: string, into: CgroupStats): void {
  into.pids = {
    current: readNumber(fs, join(dir, "pids.current")),
    limit: readLimit(fs, join(dir, "pids.max")),
  };
}
