// v1 memory controller: memory.limit_in_bytes and memory.memsw.limit_in_bytes.
//
// memsw is memory+swap, and the kernel insists memsw >= limit at every moment:
// each write is checked against the other file's current value. So the order of
// the two writes depends on the direction: when the new limit is above the
// current memsw, memsw must go up first; otherwise the limit goes first (in a
// fresh cgroup both are "unlimited", so that is the limit first). Writing them
// the wrong way round fails with EINVAL.
//
// memsw exists only when the kernel accounts swap (CONFIG_MEMCG_SWAP and
// swapaccount=1). Without it there is no way to cap swap, and we skip it.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { type CgroupFs, readKeyed, readNumber } from "../fs";
import { needsMemory } from "../needs";
import { limitOrUndefined } from "../types";
import type { V1Controller } from "./controller";

export const memoryV1: V1Controller = {
  name: "memory",
  needed: needsMemory,

  apply(fs: CgroupFs, dir: string, resources: LinuxResources) {
    const limit = resources.memory?.limit;
    const swap = resources.memory?.swap;
    const limitFile = join(dir, "memory.limit_in_bytes");
    const memswFile = join(dir, "memory.memsw.limit_in_bytes");
    const writeSwap = swap !== undefined && fs.exists(memswFile);

    if (limit !== undefined && writeSwap) {
      const currentMemsw = readNumber(fs, memswFile);
      if (unlimitedAsInfinity(limit) > currentMemsw) {
        fs.write(memswFile, String(swap));
        fs.write(limitFile, String(limit));
      } else {
        fs.write(limitFile, String(limit));
        fs.write(memswFile, String(swap));
      }
      return;
    }
    if (limit !== undefined) fs.write(limitFile, String(limit));
    if (writeSwap) fs.write(memswFile, String(swap));
  },

  sample(fs, dir, into) {
    into.memory = {
      usageBytes: readNumber(fs, join(dir, "memory.usage_in_bytes")),
      // total_: this cgroup and its children, the same scope as usage_in_bytes.
      inactiveFileBytes: readKeyed(fs, join(dir, "memory.stat")).get("total_inactive_file") ?? 0,
      limitBytes: limitOrUndefined(readNumber(fs, join(dir, "memory.limit_in_bytes"))),
    };
  },
};

function unlimitedAsInfinity(bytes: number): number {
  return bytes === -1 ? Number.POSITIVE_INFINITY : bytes;
}

/** v1 memory.oom_control has "oom_kill N" (kernel 4.13+): how many processes the OOM killer killed here. */
export function oomKilledV1(fs: CgroupFs, dir: string): boolean {
  return (readKeyed(fs, join(dir, "memory.oom_control")).get("oom_kill") ?? 0) > 0;
}
