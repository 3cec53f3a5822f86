// Which cgroup setup does this host have? Read from /proc/self/mountinfo:
//
//   v1      controllers mounted as "cgroup" filesystems, one hierarchy each
//           (/sys/fs/cgroup/memory, ...), no cgroup2;
//   hybrid  the same, plus a "cgroup2" mount (systemd puts it at
//           /sys/fs/cgroup/unified) that holds no controller we use;
//   v2      only "cgroup2", usually at /sys/fs/cgroup, with every controller.
//
// v1 and hybrid both get the v1 driver: a controller bound to a v1 hierarchy
// cannot be used from v2 at the same time, so the v1 mounts are where the
// controllers are.

import { join } from "node:path";
import { readFileSync } from "node:fs";
import { CgroupError } from "./errors";
import { type CgroupFs, hostCgroupFs, tracedCgroupFs } from "./fs";
import type { CgroupManager } from "./types";
import { V1CgroupManager } from "./v1/index";
import { V2CgroupManager } from "./v2/index";

/** Controller names the kernel may list in a v1 mount's super options. */
const V1_CONTROLLERS = new Set([
  "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
  "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc",
]);

export interface CgroupMounts {
  /** v1 controller → mount point (co-mounted controllers map to the same path). */
  v1: Map<string, string>;
  /** The first cgroup2 mount point, if any. */
  v2?: string;
}

/** Parses mountinfo text (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const mounts: CgroupMounts = { v1: new Map() };
  for (const line of mountinfo.split("\n")) {
    const fields = line.trim().split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6) continue;
    const mountpoint = unescapeMountinfo(fields[4]!);
    const fstype = fields[dash + 1];
    if (fstype === "cgroup2") {
      mounts.v2 ??= mountpoint;
    } else if (fstype === "cgroup") {
      for (const option of (fields[dash + 3] ?? "").split(",")) {
        // A controller mounted twice (a bind mount): the first one is as good.
        if (V1_CONTROLLERS.has(option) && !mounts.v1.has(option)) mounts.v1.set(option, mountpoint);
      }
    }
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as \040, \011, \012, \134. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export interface DetectOptions {
  /** mountinfo text; default: /proc/self/mountinfo. */
  mountsText?: string;
  /** Prefix for every mount point found (a temporary directory in tests); default "/". */
  root?: string;
  /** diyc's directory in each hierarchy: "diyc" normally. */
  parent: string;
  /** Default: the real filesystem. */
  fs?: CgroupFs;
  /** When given, every mkdir, rmdir and write is reported to it (diyc -v). */
  log?: (line: string) => void;
}

export function detectCgroupManager(options: DetectOptions): CgroupManager {
  const text = options.mountsText ?? readFileSync("/proc/self/mountinfo", "utf8");
  const mounts = parseCgroupMounts(text);
  const root = options.root ?? "/";
  const baseFs = options.fs ?? hostCgroupFs;
  const fs = options.log === undefined ? baseFs : tracedCgroupFs(baseFs, options.log);

  if (mounts.v1.size > 0) {
    const rebased = new Map([...mounts.v1].map(([name, path]) => [name, join(root, path)]));
    return new V1CgroupManager({ mounts: rebased, parent: options.parent, fs, mode: mounts.v2 ? "hybrid" : "v1" });
  }
  if (mounts.v2 !== undefined) {
    return new V2CgroupManager({ root: join(root, mounts.v2), parent: options.parent, fs });
  }
  throw new CgroupError("detect", "/proc/self/mountinfo", undefined, "no cgroup or cgroup2 filesystem is mounted");
}
