// v1 cpuacct controller: nothing to limit, it only counts. cpuacct.usage is the
// CPU time, in nanoseconds, used by every process that has been in the cgroup.
// Often mounted together with cpu ("cpu,cpuacct"); here it is its own module
// either way, since the driver handles co-mounted hierarchies.

import { join } from "node:path";
import { readNumber } from "../fs";
import type { V1Controller } from "./controller";

export const cpuacctV1: V1Controller = {
  name: "cpuacct",
  needed: () => false,
  apply() {
    // Accounting only: there is nothing to write.
  },
  sample(fs, dir, into) {
    into.cpu = { usageNs: readNumber(fs, join(dir, "cpuacct.usage")) };
  },
};
