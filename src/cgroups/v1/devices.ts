// v1 devices controller: the allow-list of src/cgroups/device-rules.ts, as
// devices.deny "a" and then one devices.allow write per rule (the kernel
// parses one rule per write(2)).

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import { DEFAULT_DEVICE_RULES, deviceRuleText } from "../device-rules";
import type { V1Controller } from "./controller";

export const devicesV1: V1Controller = {
  name: "devices",
  needed: () => false,
  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    fs.write(join(dir, "devices.deny"), "a");
    for (const rule of DEFAULT_DEVICE_RULES) fs.write(join(dir, "devices.allow"), deviceRuleText(rule));
    // The config's own rules (an OCI bundle's), in order: the kernel's lists apply them as given.
    for (const rule of resources.devices ?? []) {
      fs.write(join(dir, rule.allow ? "devices.allow" : "devices.deny"), deviceRuleText({ ...rule, what: "" }));
    }
  },
};
