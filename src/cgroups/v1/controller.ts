// What each v1 controller module provides. On v1 every controller is its own
// hierarchy (or shares one with others, like the usual "cpu,cpuacct"), so the
// driver (./index.ts) makes one directory per hierarchy and lets each
// controller set its files in the directory of its hierarchy.

import type { LinuxResources } from "../../spec/resources";
import type { CgroupFs } from "../fs";
import type { CgroupStats } from "../types";

export type V1ControllerName = "cpuset" | "cpu" | "cpuacct" | "memory" | "pids" | "devices";

export interface V1Controller {
  readonly name: V1ControllerName;
  /** Does `resources` ask for something only this controller can do? Then it must be mounted. */
  needed(resources: LinuxResources): boolean;
  /**
   * Called for each directory diyc makes or passes through under the hierarchy's
   * root, parent first, before anything is written to it (cpuset needs this).
   */
  prepare?(fs: CgroupFs, dir: string, parentDir: string): void;
  /** Writes the limits into the container's directory. */
  apply(fs: CgroupFs, dir: string, resources: LinuxResources): void;
  /** Adds this controller's numbers to a sample. */
  sample?(fs: CgroupFs, dir: string, into: CgroupStats): void;
}
