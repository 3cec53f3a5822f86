// Enabling controllers on v2. A cgroup can use a controller only when every
// ancestor has enabled it for its children: the root lists what the kernel
// offers in cgroup.controllers, and each level passes controllers down by
// writing "+memory +cpu ..." to its cgroup.subtree_control. A child's
// cgroup.controllers is its parent's subtree_control.
//
// We enable only what the level offers (asking for a controller that is not
// in cgroup.controllers fails with ENOENT) and only what is not on already,
// so an existing parent shared with other containers is left as it is.

import { join } from "node:path";
import { cgroupWords, type CgroupFs } from "../fs";
import type { V2ControllerName } from "./controller";

export function availableControllers(fs: CgroupFs, dir: string): Set<string> {
  return cgroupWords(fs, join(dir, "cgroup.controllers"));
}

/** Turns on, in `dir`'s cgroup.subtree_control, those of `wanted` that `dir` has and has not enabled yet. */
export function enableForChildren(fs: CgroupFs, dir: string, wanted: readonly V2ControllerName[]): void {
  fs.enableControllers(dir, wanted);
}
