// v2 memory controller: memory.max and memory.swap.max.
//
// Unlike v1's memsw, v2 counts swap on its own: memory.swap.max is swap only.
// The spec's memory.swap is memory+swap (the v1 meaning), so the swap we write
// is swap - limit; equal values ("swap disabled") write 0. The two files are
// independent, so no write order matters here (the v1 pitfall is gone).
// memory.swap.max is absent when the kernel does not account swap; then we skip it.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { CgroupError } from "../errors";
import { type CgroupFs, readKeyed, readLimit, readNumber } from "../fs";
import { needsMemory } from "../needs";
import type { V2Controller } from "./controller";

export const memoryV2: V2Controller = {
  name: "memory",
  needed: needsMemory,

  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    const { limit, swap } = resources.memory ?? {};
    if (limit !== undefined) fs.write(join(dir, "memory.max"), limit === -1 ? "max" : String(limit));
    const swapFile = join(dir, "memory.swap.max");
    if (swap !== undefined && fs.exists(swapFile)) fs.write(swapFile, swapMaxValue(swapFile, limit, swap));
  },

  sample(fs, dir, into) {
    into.memory = {
      usageBytes: readNumber(fs, join(dir, "memory.current")),
      inactiveFileBytes: readKeyed(fs, join(dir, "memory.stat")).get("inactive_file") ?? 0,
      limitBytes: readLimit(fs, join(dir, "memory.max")),
    };
  },
};

/** memory+swap (spec) → swap alone (v2), as runc converts it. */
function swapMaxValue(path: string, limit: number | undefined, swap: number): string {
  if (swap === -1) return "max";
  if (limit === undefined || limit === -1) {
    throw new CgroupError("config", path, undefined, "a swap limit needs a memory limit on cgroup v2");
  }
  return String(swap - limit);
}

/** memory.events counts "oom_kill": processes of this cgroup (and below) the OOM killer killed. */
export function oomKilledV2(fs: CgroupFs, dir: string): boolean {
  const events = join(dir, "memory.events");
  return fs.exists(events) && (readKeyed(fs, events).get("oom_kill") ?? 0) > 0;
}
