// A container's cgroup in a v1 hierarchy that the container drivers do not
// manage (blkio, hugetlb): made only when a container's configuration asks
// for that controller (an OCI bundle's linux.resources.blockIO or
// hugepageLimits), so `diyc run` containers pay nothing for it. The parent
// levels are shared and left in place; the container's own directory is
// removed with the container.

import { join } from "node:path";
import { Errno } from "../../linux/errors";
import { parseCgroupMounts } from "../detect";
import { CgroupError } from "../errors";
import { hostCgroupFs, joinCgroupDirs, removeCgroupDir, type CgroupFs } from "../fs";
import { checkId, parentLevels, parentSegments } from "../paths";

export class SideCgroupV1 {
  private constructor(
    readonly controller: string,
    readonly dir: string,
    private readonly parentDirs: string[],
    private readonly fs: CgroupFs,
  ) {}

  /** PARENT/NAME in the controller's v1 hierarchy; undefined if the host has no such hierarchy. */
  static locate(mountinfo: string, controller: string, parent: string, name: string, fs: CgroupFs = hostCgroupFs): SideCgroupV1 | undefined {
    checkId(name, parent);
    const mountpoint = parseCgroupMounts(mountinfo).v1.get(controller);
    if (!mountpoint) return undefined;
    const segments = parentSegments(parent);
    return new SideCgroupV1(controller, join(mountpoint, ...segments, name), parentLevels(mountpoint, segments).map(([, dir]) => dir), fs);
  }

  /** Makes the directory (and its parent levels) and moves `pid` in. */
  join(pid: number): void {
    joinCgroupDirs(this.fs, [...this.parentDirs, this.dir], pid);
  }

  has(file: string): boolean {
    return this.fs.exists(join(this.dir, file));
  }

  write(file: string, value: string): void {
    this.fs.write(join(this.dir, file), value);
  }

  /** rmdir the container's directory; ENOENT is fine. */
  remove(): void {
    if (this.fs.exists(this.dir)) removeCgroupDir(this.fs, this.dir);
  }

  /** rmdir the innermost parent level once empty; EBUSY (others) and ENOENT are fine. */
  removeParent(): void {
    const parent = this.parentDirs.at(-1);
    if (!parent) return;
    try {
      this.fs.rmdir(parent);
    } catch (error) {
      if (!(error instanceof CgroupError && (error.errno === Errno.EBUSY || error.errno === Errno.ENOENT))) throw error;
    }
  }
}
