// v1 devices controller: which device nodes the container may open or create.
//
// The container's /dev is a tmpfs that holds only the standard devices, but a
// process with CAP_MKNOD could still mknod the host's disk and open it. The
// devices cgroup closes that: deny everything ("a"), then allow exactly the
// devices of a container /dev, read-write-mknod. Like runc we also allow mknod
// (but not read or write) of any device, so images that create nodes at build
// time still work; the node is useless without r or w.
//
// Each rule is its own write: the kernel parses one rule per write(2).

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import type { V1Controller } from "./controller";

export interface DeviceRule {
  type: "a" | "c" | "b";
  major: number | "*";
  minor: number | "*";
  access: string;
  /** What it is, for docs and -v. */
  what: string;
}

export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { type: "c", major: "*", minor: "*", access: "m", what: "mknod of any character device" },
  { type: "b", major: "*", minor: "*", access: "m", what: "mknod of any block device" },
  { type: "c", major: 1, minor: 3, access: "rwm", what: "/dev/null" },
  { type: "c", major: 1, minor: 5, access: "rwm", what: "/dev/zero" },
  { type: "c", major: 1, minor: 7, access: "rwm", what: "/dev/full" },
  { type: "c", major: 1, minor: 8, access: "rwm", what: "/dev/random" },
  { type: "c", major: 1, minor: 9, access: "rwm", what: "/dev/urandom" },
  { type: "c", major: 5, minor: 0, access: "rwm", what: "/dev/tty" },
  { type: "c", major: 5, minor: 2, access: "rwm", what: "/dev/ptmx" },
  { type: "c", major: 136, minor: "*", access: "rwm", what: "/dev/pts/*" },
];

/** "c 1:3 rwm", the format of devices.allow and devices.list. */
export function deviceRuleText(rule: DeviceRule): string {
  return `${rule.type} ${rule.major}:${rule.minor} ${rule.access}`;
}

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
