// Freezing a cgroup's processes (pause/resume), on v1 and v2.
//   v1: a cgroup of its own in the freezer hierarchy; freezer.state FROZEN/THAWED.
//   v2: the container's own cgroup; cgroup.freeze 1/0, cgroup.events "frozen 1".
// The kernel freezes asynchronously: freeze() waits until the state says so.
// The container cgroups of src/cgroups/v1 do not include the freezer (diyc's
// own containers are never paused), so the OCI runtime makes this one beside them.

import { join } from "node:path";
import { CgroupError } from "./errors";
import { hostCgroupFs, type CgroupFs } from "./fs";
import { parseCgroupMounts } from "./detect";
import { parentSegments, checkId } from "./paths";
import { SideCgroupV1 } from "./v1/side";

export class Freezer {
  private constructor(
    readonly version: "v1" | "v2",
    readonly dir: string,
    /** v1: the freezer hierarchy's cgroup, made and removed like any side cgroup. */
    private readonly v1: SideCgroupV1 | undefined,
    private readonly fs: CgroupFs,
  ) {}

  /** The freezer of PARENT/NAME on this host, or undefined if the host has none. */
  static locate(mountinfo: string, parent: string, name: string, fs: CgroupFs = hostCgroupFs): Freezer | undefined {
    checkId(name, parent);
    const v1 = SideCgroupV1.locate(mountinfo, "freezer", parent, name, fs);
    if (v1) return new Freezer("v1", v1.dir, v1, fs);
    const mounts = parseCgroupMounts(mountinfo);
    if (mounts.v1.size === 0 && mounts.v2) return new Freezer("v2", join(mounts.v2, ...parentSegments(parent), name), undefined, fs);
    return undefined;
  }

  /** v1: makes the freezer cgroup (and its parents) and moves `pid` in. v2: nothing to make. */
  join(pid: number): void {
    this.v1?.join(pid);
  }

  frozen(): boolean {
    if (!this.fs.exists(this.dir)) return false;
    if (this.version === "v1") return this.fs.read(join(this.dir, "freezer.state")).trim() === "FROZEN";
    return /^frozen 1$/m.test(this.fs.read(join(this.dir, "cgroup.events")));
  }

  async freeze(): Promise<void> {
    await this.set(true);
  }

  async thaw(): Promise<void> {
    await this.set(false);
  }

  private async set(frozen: boolean): Promise<void> {
    if (this.version === "v1") this.fs.write(join(this.dir, "freezer.state"), frozen ? "FROZEN" : "THAWED");
    else this.fs.write(join(this.dir, "cgroup.freeze"), frozen ? "1" : "0");
    for (let i = 0; i < 1000 && this.frozen() !== frozen; i++) await Bun.sleep(1);
    if (this.frozen() !== frozen) throw new CgroupError("write", this.dir, undefined, `the cgroup did not become ${frozen ? "frozen" : "thawed"}`);
  }

  /** v1: rmdir the innermost parent level; EBUSY (other containers) and ENOENT are fine. */
  removeParent(): void {
    this.v1?.removeParent();
  }

  /** v1: rmdir the freezer cgroup (thawed first: a frozen cgroup's killed processes cannot exit). */
  remove(): void {
    if (!this.v1) return;
    if (this.fs.exists(this.dir) && this.frozen()) this.fs.write(join(this.dir, "freezer.state"), "THAWED");
    this.v1.remove(); // waits out EBUSY while the killed processes finish exiting
  }
}
