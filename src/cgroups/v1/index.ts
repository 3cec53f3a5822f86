// The cgroup v1 driver. On v1 each controller is mounted as its own hierarchy
// (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu, ...) or shares one with others
// ("cpu,cpuacct"). A container's cgroup is therefore one directory per
// hierarchy, PARENT/ID in each, and a process joins it by writing its pid to
// cgroup.procs in every one of them.
//
// Creation order, for one container:
//   1. every hierarchy: mkdir the parent levels that are missing (shared by all
//      containers, never removed by a container), and let each controller
//      prepare them (cpuset copies cpus/mems down: see ./cpuset.ts);
//   2. every hierarchy: mkdir PARENT/ID (EEXIST: refuse), prepare it;
//   3. every controller: write its limits;
// and if any step fails, rmdir the PARENT/ID directories made so far.

import { join } from "node:path";
import type { LinuxResources } from "../../spec/resources";
import { Errno } from "../../linux/errors";
import { CgroupError } from "../errors";
import { type CgroupFs, remakingVanishedParent, removeCgroupDir } from "../fs";
import { checkId, parentLevels, parentSegments, parsePids } from "../paths";
import type { Cgroup, CgroupId, CgroupManager, CgroupStats } from "../types";
import type { V1Controller, V1ControllerName } from "./controller";
import { cpuV1 } from "./cpu";
import { cpuacctV1 } from "./cpuacct";
import { cpusetV1 } from "./cpuset";
import { devicesV1 } from "./devices";
import { memoryV1, oomKilledV1 } from "./memory";
import { pidsV1 } from "./pids";

/** The controllers diyc uses, in the order their limits are applied. */
const CONTROLLERS: readonly V1Controller[] = [cpusetV1, cpuV1, cpuacctV1, memoryV1, pidsV1, devicesV1];

/** One mounted hierarchy and the controllers diyc uses in it. */
interface Hierarchy {
  mountpoint: string;
  controllers: V1Controller[];
}

export interface V1Options {
  /** Where each controller is mounted, e.g. memory → /sys/fs/cgroup/memory. Co-mounted ones share a path. */
  mounts: ReadonlyMap<string, string>;
  /** diyc's directory under each hierarchy, e.g. "diyc". */
  parent: string;
  fs: CgroupFs;
  mode?: "v1" | "hybrid";
}

export class V1CgroupManager implements CgroupManager {
  readonly version = "v1";
  readonly mode: "v1" | "hybrid";
  private readonly hierarchies: Hierarchy[] = [];
  private readonly segments: string[];
  private readonly fs: CgroupFs;

  constructor(options: V1Options) {
    this.mode = options.mode ?? "v1";
    this.fs = options.fs;
    this.segments = parentSegments(options.parent);
    for (const controller of CONTROLLERS) {
      const mountpoint = options.mounts.get(controller.name);
      if (mountpoint === undefined) continue;
      const existing = this.hierarchies.find((h) => h.mountpoint === mountpoint);
      if (existing) existing.controllers.push(controller);
      else this.hierarchies.push({ mountpoint, controllers: [controller] });
    }
  }

  get mountpoints(): readonly string[] {
    return this.hierarchies.map((h) => h.mountpoint);
  }

  /** The parent directory in each hierarchy. */
  get parentPaths(): string[] {
    return this.hierarchies.map((h) => join(h.mountpoint, ...this.segments));
  }

  create(id: CgroupId, resources: LinuxResources): Cgroup {
    checkId(id, this.parentPaths[0] ?? "/sys/fs/cgroup");
    for (const controller of CONTROLLERS) {
      if (controller.needed(resources) && !this.hierarchies.some((h) => h.controllers.includes(controller))) {
        throw new CgroupError("config", id, undefined, `the ${controller.name} controller is not mounted on this host`);
      }
    }
    const made: string[] = [];
    try {
      for (const hierarchy of this.hierarchies) remakingVanishedParent(() => this.ensureParent(hierarchy), () => {});
      for (const hierarchy of this.hierarchies) {
        const parentDir = join(hierarchy.mountpoint, ...this.segments);
        const dir = join(parentDir, id);
        remakingVanishedParent(() => this.fs.mkdir(dir), () => this.ensureParent(hierarchy));
        made.push(dir);
        for (const controller of hierarchy.controllers) controller.prepare?.(this.fs, dir, parentDir);
      }
      for (const controller of CONTROLLERS) {
        const index = this.hierarchies.findIndex((h) => h.controllers.includes(controller));
        if (index >= 0) controller.apply(this.fs, made[index]!, resources);
      }
    } catch (error) {
      // Best effort: the directories are new and empty (no process joined yet),
      // so rmdir succeeds unless cgroupfs itself is failing; the first error is
      // the one the user needs to see.
      for (const dir of made.reverse()) {
        try {
          removeCgroupDir(this.fs, dir);
        } catch {}
      }
      throw error;
    }
    return new V1Cgroup(id, this.fs, this.hierarchies, made);
  }

  /**
   * The container's cgroup if any of its directories exists. A diyc killed
   * between the mkdirs of create leaves only some: the cgroup opened then
   * reads as it is (no OOM kill, no stats where a directory is missing) and
   * removes what there is, so release never fails on what was never made.
   */
  open(id: CgroupId): Cgroup | undefined {
    checkId(id, this.parentPaths[0] ?? "/sys/fs/cgroup");
    const dirs = this.parentPaths.map((p) => join(p, id));
    if (!dirs.some((dir) => this.fs.exists(dir))) return undefined;
    return new V1Cgroup(id, this.fs, this.hierarchies, dirs);
  }

  /**
   * Every hierarchy's parent is tried, even after one is busy (another
   * container): the same steps whatever the moment, which a recorded run
   * (runtime/prepared.ts) must keep. Then the first failure is reported.
   */
  removeParent(): void {
    let first: unknown;
    for (const dir of this.parentPaths) {
      try {
        removeCgroupDir(this.fs, dir, 0);
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  private ensureParent(hierarchy: Hierarchy): void {
    for (const [parentDir, dir] of parentLevels(hierarchy.mountpoint, this.segments)) {
      this.fs.ensureDir(dir); // another container (or another diyc) may have made it first: it is shared
      // Also on an existing level: one made by a diyc that died before copying
      // cpuset values down is still empty, and prepare only fills empty files.
      for (const controller of hierarchy.controllers) controller.prepare?.(this.fs, dir, parentDir);
    }
  }
}

class V1Cgroup implements Cgroup {
  constructor(
    readonly id: CgroupId,
    private readonly fs: CgroupFs,
    private readonly hierarchies: readonly Hierarchy[],
    /** Parallel to hierarchies. */
    readonly paths: readonly string[],
  ) {}

  addProcess(pid: number): void {
    for (const dir of this.paths) this.fs.write(join(dir, "cgroup.procs"), String(pid));
  }

  pids(): number[] {
    const first = this.paths[0];
    return first === undefined ? [] : parsePids(this.fs.read(join(first, "cgroup.procs")));
  }

  stats(): CgroupStats {
    const stats: CgroupStats = { sampledAtNs: Number(process.hrtime.bigint()) };
    this.hierarchies.forEach((hierarchy, i) => {
      // A cgroup made only in part (see open) has nothing to sample in the hierarchies it lacks.
      if (!this.fs.exists(this.paths[i]!)) return;
      for (const controller of hierarchy.controllers) controller.sample?.(this.fs, this.paths[i]!, stats);
    });
    return stats;
  }

  update(resources: LinuxResources): void {
    for (const controller of CONTROLLERS) {
      if (controller.name === "devices") continue;
      const dir = this.dirOf(controller.name);
      if (dir !== undefined) controller.apply(this.fs, dir, resources);
      else if (controller.needed(resources)) throw new CgroupError("config", this.id, undefined, `the ${controller.name} controller is not mounted on this host`);
    }
  }

  oomKilled(): boolean {
    const dir = this.dirOf("memory");
    // No memory cgroup (made only in part): no process of the container ever ran under it.
    return dir === undefined || !this.fs.exists(dir) ? false : oomKilledV1(this.fs, dir);
  }

  remove(): void {
    // Try every directory even if one fails, so one busy hierarchy does not
    // leave the others behind; then report the first failure.
    let first: unknown;
    for (const dir of [...this.paths].reverse()) {
      try {
        removeCgroupDir(this.fs, dir);
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }

  private dirOf(name: V1ControllerName): string | undefined {
    const index = this.hierarchies.findIndex((h) => h.controllers.some((c) => c.name === name));
    return index < 0 ? undefined : this.paths[index];
  }
}
