// v2 cpuset controller. Unlike v1, a new v2 cpuset cgroup with empty
// cpuset.cpus/cpuset.mems simply uses its parent's (the "effective" values), so
// nothing has to be copied down: we only write what the user asked for.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import { needsCpuset } from "../needs";
import type { V2Controller } from "./controller";

export const cpusetV2: V2Controller = {
  name: "cpuset",
  needed: needsCpuset,
  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    if (resources.cpu?.cpus !== undefined) fs.write(join(dir, "cpuset.cpus"), resources.cpu.cpus);
    if (resources.cpu?.mems !== undefined) fs.write(join(dir, "cpuset.mems"), resources.cpu.mems);
  },
};
