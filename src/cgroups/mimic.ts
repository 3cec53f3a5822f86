// MimicCgroupFs: a CgroupFs over a plain temporary directory that behaves like
// cgroupfs where diyc's code depends on it, for unit tests without root. Like
// src/linux/recording.ts, it never touches the kernel.
//
// What it imitates:
//   - mkdir fills the new cgroup with its control files and their defaults
//     (v1: those of the hierarchy's controllers, with cpuset.cpus/mems EMPTY;
//     v2: cgroup.controllers = the parent's cgroup.subtree_control, and the
//     files of exactly those controllers);
//   - cgroup.procs, tasks, devices.allow and devices.deny keep every write as
//     a line, so a test can read what was written, in order;
//   - the kernel's refusals that diyc must avoid by ordering its writes:
//     joining a v1 cpuset with no cpus/mems (ENOSPC), memory above memsw or
//     memsw below memory (EINVAL), enabling a v2 controller the level does
//     not offer (ENOENT), rmdir of a cgroup with processes or children (EBUSY);
//   - writing a file that does not exist fails (ENOENT), as on cgroupfs;
//   - a v2 cgroup keeps the device programs attached to it (devicePrograms).
// It records every write, for tests of the order.

import { appendFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Errno } from "../linux/errors";
import { CgroupError } from "./errors";
import { type CgroupFs, copyIfEmptyWith, enableControllersWith, ensureDirWith, hostCgroupFs } from "./fs";
import type { DeviceProgram } from "./v2/devices";

/** What v1 writes for "no limit" (PAGE_COUNTER_MAX pages of 4 KiB). */
const V1_UNLIMITED = "9223372036854771712";

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": V1_UNLIMITED,
    "memory.memsw.limit_in_bytes": V1_UNLIMITED,
    "memory.usage_in_bytes": "0",
    "memory.stat": "cache 0\ntotal_inactive_file 0\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
  },
  cpu: { "cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1" },
  cpuacct: { "cpuacct.usage": "0" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "0" },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" },
  freezer: { "freezer.state": "THAWED" },
};
const V1_CORE = { "cgroup.procs": "", tasks: "", "cgroup.clone_children": "0" };

const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.max": "max",
    "memory.swap.max": "max",
    "memory.current": "0",
    "memory.stat": "anon 0\ninactive_file 0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
  },
  cpu: { "cpu.max": "max 100000", "cpu.weight": "100" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "0" },
};
const V2_CORE = { "cgroup.procs": "", "cgroup.subtree_control": "", "cpu.stat": "usage_usec 0\n" };

/** Files whose writes the kernel acts on one by one rather than storing: kept as lines. */
const APPENDED = new Set(["cgroup.procs", "tasks", "devices.allow", "devices.deny"]);

export class MimicCgroupFs implements CgroupFs {
  readonly writes: Array<{ path: string; value: string }> = [];
  /** v1: hierarchy directory → its controllers. Empty for v2. */
  private readonly v1Hierarchies = new Map<string, string[]>();

  constructor(
    readonly kind: "v1" | "v2",
    private readonly swapAccounting = true,
  ) {}

  mkdir(path: string): void {
    hostCgroupFs.mkdir(path);
    this.populate(path, this.filesFor(path));
  }

  ensureDir(path: string): void {
    ensureDirWith(this, path);
  }

  copyIfEmpty(path: string, from: string): void {
    copyIfEmptyWith(this, path, from);
  }

  enableControllers(dir: string, wanted: readonly string[]): void {
    enableControllersWith(this, dir, wanted);
  }

  rmdir(path: string): void {
    if (!this.exists(path)) throw new CgroupError("rmdir", path, Errno.ENOENT);
    const entries = readdirSync(path, { withFileTypes: true });
    if (entries.some((e) => e.isDirectory()) || this.read(join(path, "cgroup.procs")).trim() !== "") {
      throw new CgroupError("rmdir", path, Errno.EBUSY);
    }
    for (const e of entries) rmSync(join(path, e.name));
    hostCgroupFs.rmdir(path);
  }

  write(path: string, value: string): void {
    this.writes.push({ path, value });
    if (!this.exists(path)) throw new CgroupError("write", path, Errno.ENOENT);
    const dir = dirname(path);
    const file = basename(path);
    const refuse = (errno: number) => new CgroupError("write", path, errno);

    if (file === "cgroup.procs" && this.kind === "v1") {
      const cpus = join(dir, "cpuset.cpus");
      const mems = join(dir, "cpuset.mems");
      if (this.exists(cpus) && (this.read(cpus).trim() === "" || this.read(mems).trim() === "")) {
        throw refuse(Errno.ENOSPC);
      }
    }
    if (file === "memory.limit_in_bytes" || file === "memory.memsw.limit_in_bytes") {
      const memsw = join(dir, "memory.memsw.limit_in_bytes");
      const stored = value.trim() === "-1" ? V1_UNLIMITED : value.trim();
      if (this.exists(memsw)) {
        const limit = file === "memory.limit_in_bytes" ? stored : this.read(join(dir, "memory.limit_in_bytes"));
        const total = file === "memory.memsw.limit_in_bytes" ? stored : this.read(memsw);
        if (BigInt(limit.trim()) > BigInt(total.trim())) throw refuse(Errno.EINVAL);
      }
      writeFileSync(path, stored);
      return;
    }
    if (file === "cgroup.subtree_control") {
      const offered = new Set(this.words(join(dir, "cgroup.controllers")));
      const enabled = new Set(this.words(path));
      for (const word of value.split(/\s+/).filter((w) => w !== "")) {
        const name = word.slice(1);
        if (!offered.has(name)) throw refuse(Errno.ENOENT);
        if (word.startsWith("+")) enabled.add(name);
        else enabled.delete(name);
      }
      writeFileSync(path, [...enabled].join(" "));
      return;
    }
    if (APPENDED.has(file)) {
      appendFileSync(path, `${value}\n`);
      return;
    }
    writeFileSync(path, value);
  }

  read(path: string): string {
    return hostCgroupFs.read(path);
  }

  exists(path: string): boolean {
    return hostCgroupFs.exists(path);
  }

  /** The device programs attached, by cgroup directory (a cgroup holds them, not files). */
  readonly devicePrograms = new Map<string, DeviceProgram[]>();

  attachDeviceProgram(path: string, program: DeviceProgram): void {
    if (!this.exists(path)) throw new CgroupError("bpf", path, Errno.ENOENT, "open");
    this.devicePrograms.set(path, [...(this.devicePrograms.get(path) ?? []), program]);
  }

  /** Sets a file as the kernel would (usage counters, oom_kill), for stats tests. */
  setFile(path: string, value: string): void {
    writeFileSync(path, value);
  }

  private words(path: string): string[] {
    return this.read(path).split(/\s+/).filter((w) => w !== "");
  }

  private populate(dir: string, files: Record<string, string>): void {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  }

  private filesFor(dir: string): Record<string, string> {
    if (this.kind === "v2") {
      const controllers = this.words(join(dirname(dir), "cgroup.subtree_control"));
      const files: Record<string, string> = { ...V2_CORE, "cgroup.controllers": controllers.join(" ") };
      for (const name of controllers) Object.assign(files, V2_FILES[name]);
      return files;
    }
    const hierarchy = [...this.v1Hierarchies.keys()].find((root) => dir.startsWith(`${root}/`));
    const files: Record<string, string> = { ...V1_CORE };
    for (const name of this.v1Hierarchies.get(hierarchy ?? "") ?? []) Object.assign(files, V1_FILES[name]);
    if (!this.swapAccounting) delete files["memory.memsw.limit_in_bytes"];
    return files;
  }

  /** Makes a v1 hierarchy's root directory (a mount point): the root cpuset has every CPU. */
  addV1Hierarchy(dir: string, controllers: string[], cpus: string, mems: string): void {
    mkdirSync(dir, { recursive: true });
    this.v1Hierarchies.set(dir, controllers);
    const files = this.filesFor(`${dir}/x`);
    if (controllers.includes("cpuset")) Object.assign(files, { "cpuset.cpus": cpus, "cpuset.mems": mems });
    this.populate(dir, files);
  }

  /** Makes the v2 root directory: it offers `controllers`, and has enabled none yet. */
  addV2Root(dir: string, controllers: string[]): void {
    mkdirSync(dir, { recursive: true });
    this.populate(dir, { ...V2_CORE, "cgroup.controllers": controllers.join(" ") });
  }
}

export interface MimicHost {
  fs: MimicCgroupFs;
  /** mountinfo text describing the mimic's mounts, for detectCgroupManager({ mountsText, root }). */
  mountinfo: string;
}

/**
 * A v1 (or hybrid, with `unified`) host under `root`: each inner array is one
 * hierarchy, mounted at /sys/fs/cgroup/<names joined by ",">, like systemd does.
 */
export function mimicV1Host(
  root: string,
  options: { hierarchies: string[][]; cpus?: string; mems?: string; unified?: boolean; swapAccounting?: boolean },
): MimicHost {
  const fs = new MimicCgroupFs("v1", options.swapAccounting ?? true);
  const lines = ["25 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw"];
  options.hierarchies.forEach((controllers, i) => {
    const mountpoint = `/sys/fs/cgroup/${controllers.join(",")}`;
    fs.addV1Hierarchy(join(root, mountpoint), controllers, options.cpus ?? "0-1", options.mems ?? "0");
    lines.push(`${32 + i} 31 0:${29 + i} / ${mountpoint} rw,nosuid,nodev,noexec,relatime shared:${9 + i} - cgroup cgroup rw,${controllers.join(",")}`);
  });
  if (options.unified) {
    lines.push("41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate");
  }
  return { fs, mountinfo: lines.join("\n") + "\n" };
}

/** A pure v2 host under `root`: cgroup2 at /sys/fs/cgroup offering `controllers`. */
export function mimicV2Host(root: string, controllers: string[]): MimicHost {
  const fs = new MimicCgroupFs("v2");
  fs.addV2Root(join(root, "/sys/fs/cgroup"), controllers);
  return {
    fs,
    mountinfo:
      "25 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n" +
      "31 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
  };
}
