// v2 pids controller: the same pids.max and pids.current as v1 (see ../v1/pids.ts).

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import { pidsMaxValue, samplePids } from "../v1/pids";
import type { V2Controller } from "./controller";

export const pidsV2: V2Controller = {
  name: "pids",
  needed: (resources) => resources.pids !== undefined,
  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    if (resources.pids !== undefined) fs.write(join(dir, "pids.max"), pidsMaxValue(resources.pids.limit));
  },
  sample: samplePids,
};
