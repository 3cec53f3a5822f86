// What each v2 controller module provides. On v2 there is one hierarchy; a
// controller's files appear in a cgroup only when its parent has enabled the
// controller for its children (cgroup.subtree_control). The driver
// (./index.ts) does that enabling; the modules here write the limits.

import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import type { CgroupStats } from "../types";

export type V2ControllerName = "cpuset" | "cpu" | "memory" | "pids";

export interface V2Controller {
  readonly name: V2ControllerName;
  /** Does `resources` ask for something only this controller can do? Then it must be available. */
  needed(resources: LinuxResources): boolean;
  apply(fs: CgroupFs, dir: string, resources: LinuxResources): void;
  sample?(fs: CgroupFs, dir: string, into: CgroupStats): void;
}
