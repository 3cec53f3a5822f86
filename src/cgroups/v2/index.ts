// The cgroup v2 driver. One hierarchy (usually /sys/fs/cgroup); a container's
// cgroup is the single directory ROOT/PARENT/ID.
//
// Creation order:
//   1. from the root down to PARENT: enable our controllers for the children
//      (./subtree.ts) and mkdir the next level if missing (shared, never
//      removed by a container);
//   2. mkdir ROOT/PARENT/ID (EEXIST: refuse) and check that the controllers the
//      limits need arrived in its cgroup.controllers;
//   3. every controller writes its limits.
//   4. attach the device program (./devices.ts): v2 has no devices files, so
//      the allow-list the v1 driver writes is an eBPF program here.
// A failure after the mkdir removes ROOT/PARENT/ID again.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { Errno } from "../../linux/errors";
import { CgroupError } from "../errors";
import { type CgroupFs, remakingVanishedParent, removeCgroupDir } from "../fs";
import { checkId, parentLevels, parentSegments, parsePids } from "../paths";
import type { Cgroup, CgroupId, CgroupManager, CgroupStats } from "../types";
import type { V2Controller } from "./controller";
import { cpuV2, sampleCpuV2 } from "./cpu";
import { cpusetV2 } from "./cpuset";
import { compileDeviceProgram } from "./devices";
import { DEFAULT_DEVICE_RULES } from "../device-rules";
import { memoryV2, oomKilledV2 } from "./memory";
import { pidsV2 } from "./pids";
import { availableControllers, enableForChildren } from "./subtree";

const CONTROLLERS: readonly V2Controller[] = [cpusetV2, cpuV2, memoryV2, pidsV2];
const NAMES = CONTROLLERS.map((c) => c.name);
/** The same allow-list as v1's devices.allow (../v1/devices.ts), compiled once. */
const DEFAULT_DEVICE_PROGRAM = compileDeviceProgram(DEFAULT_DEVICE_RULES);

/**
 * The device program for a container: the standard allow-list, plus the
 * config's own allow rules (an OCI bundle's). The program is an allow-list,
 * so a deny rule of the config (other than the deny-all every container
 * starts from) cannot be expressed, and is refused.
 */
function devicePrograms(resources: LinuxResources) {
  const extra = resources.devices ?? [];
  if (extra.length === 0) return DEFAULT_DEVICE_PROGRAM;
  const deny = extra.find((r) => !r.allow);
  if (deny) throw new CgroupError("config", "devices", undefined, `a device deny rule (${deny.type} ${deny.major}:${deny.minor}) after allows is not supported on cgroup v2`);
  return compileDeviceProgram([...DEFAULT_DEVICE_RULES, ...extra.map((r) => ({ ...r, what: "" }))]);
}

export interface V2Options {
  /** The cgroup2 mount point, e.g. /sys/fs/cgroup. */
  root: string;
  parent: string;
  fs: CgroupFs;
  /**
   * Rootless (a subtree delegated to an ordinary user): no device program.
   * Attaching one needs the host's CAP_SYS_ADMIN (or CAP_BPF), and a
   * container in a user namespace can make no device node anyway: its /dev
   * holds the host's nodes, bound, with the host's permissions.
   */
  noDeviceProgram?: boolean;
}

export class V2CgroupManager implements CgroupManager {
  readonly version = "v2";
  readonly mode = "v2";
  private readonly root: string;
  private readonly segments: string[];
  private readonly fs: CgroupFs;
  private readonly noDeviceProgram: boolean;

  get mountpoints(): readonly string[] {
    return [this.root];
  }

  constructor(options: V2Options) {
    this.root = options.root;
    this.noDeviceProgram = options.noDeviceProgram ?? false;
    this.fs = options.fs;
    this.segments = parentSegments(options.parent);
  }

  get parentPath(): string {
    return join(this.root, ...this.segments);
  }

  create(id: CgroupId, resources: LinuxResources): Cgroup {
    checkId(id, this.parentPath);
    remakingVanishedParent(() => this.ensureParent(), () => {});
    const dir = join(this.parentPath, id);
    remakingVanishedParent(() => {
      enableForChildren(this.fs, this.parentPath, NAMES);
      this.fs.mkdir(dir);
    }, () => this.ensureParent());
    try {
      const available = availableControllers(this.fs, dir);
      for (const controller of CONTROLLERS) {
        if (controller.needed(resources) && !available.has(controller.name)) {
          throw new CgroupError(
            "config",
            join(dir, "cgroup.controllers"),
            undefined,
            `the ${controller.name} controller is not available here (the kernel or a parent cgroup does not offer it)`,
          );
        }
      }
      for (const controller of CONTROLLERS) controller.apply(this.fs, dir, resources);
      if (!this.noDeviceProgram) this.fs.attachDeviceProgram(dir, devicePrograms(resources));
    } catch (error) {
      // Best effort: the directory is new and holds no process, so rmdir works
      // unless cgroupfs itself fails; the original error is the one to report.
      try {
        removeCgroupDir(this.fs, dir);
      } catch {}
      throw error;
    }
    return new V2Cgroup(id, this.fs, dir);
  }

  /** diyc's parent cgroup, shared by its containers, and every level above it, each handing the controllers down. */
  private ensureParent(): void {
    for (const [parentDir, dir] of parentLevels(this.root, this.segments)) {
      enableForChildren(this.fs, parentDir, NAMES);
      this.fs.ensureDir(dir); // made by an earlier container or a concurrent diyc: shared, fine
    }
  }

  open(id: CgroupId): Cgroup | undefined {
    checkId(id, this.parentPath);
    const dir = join(this.parentPath, id);
    return this.fs.exists(dir) ? new V2Cgroup(id, this.fs, dir) : undefined;
  }

  removeParent(): void {
    removeCgroupDir(this.fs, this.parentPath, 0);
  }
}

class V2Cgroup implements Cgroup {
  readonly paths: readonly string[];

  constructor(
    readonly id: CgroupId,
    private readonly fs: CgroupFs,
    private readonly dir: string,
  ) {
    this.paths = [dir];
  }

  addProcess(pid: number): void {
    this.fs.write(join(this.dir, "cgroup.procs"), String(pid));
  }

  pids(): number[] {
    return parsePids(this.fs.read(join(this.dir, "cgroup.procs")));
  }

  stats(): CgroupStats {
    const stats: CgroupStats = { sampledAtNs: Number(process.hrtime.bigint()), cpu: sampleCpuV2(this.fs, this.dir) };
    const available = availableControllers(this.fs, this.dir);
    for (const controller of CONTROLLERS) {
      if (available.has(controller.name)) controller.sample?.(this.fs, this.dir, stats);
    }
    return stats;
  }

  update(resources: LinuxResources): void {
    for (const controller of CONTROLLERS) controller.apply(this.fs, this.dir, resources);
  }

  oomKilled(): boolean {
    return oomKilledV2(this.fs, this.dir);
  }

  remove(): void {
    removeCgroupDir(this.fs, this.dir);
  }
}
