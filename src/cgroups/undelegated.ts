// Rootless diyc on a host that gives the user no cgroups of their own.
//
// An ordinary user may only make cgroups where root has delegated a subtree
// to them (on cgroup v2, e.g. systemd's user@UID.service with Delegate=yes),
// and may only move processes inside it. cgroup v1 has no safe delegation
// at all. There, rootless containers run without a cgroup: the container
// works, but limits cannot be enforced. We say so when limits are asked for,
// before anything is made, rather than fail half-way through a create or
// drop the limit with a warning (as podman does on v1): a memory limit that
// silently limits nothing is worse than a clear refusal.

import { UsageError } from "../linux/errors";
import type { LinuxResources } from "../spec/resources";
import type { Cgroup, CgroupId, CgroupManager } from "./types";

/** The limits a request sets (device rules are the default's, not a limit the user asked for). */
export function requestedLimits(resources: LinuxResources): string[] {
  const set: string[] = [];
  if (resources.memory && Object.values(resources.memory).some((v) => v !== undefined)) set.push("memory");
  if (resources.cpu && Object.values(resources.cpu).some((v) => v !== undefined)) set.push("cpu");
  if (resources.pids?.limit !== undefined) set.push("pids");
  if (resources.blockIO) set.push("blkio");
  if (resources.hugepageLimits?.length) set.push("hugetlb");
  if (resources.unified && Object.keys(resources.unified).length > 0) set.push("unified");
  return set;
}

export class UndelegatedCgroups implements CgroupManager {
  readonly mountpoints: readonly string[] = [];

  /** @param why says what the host lacks, for the message ("this host's cgroups are v1"). */
  constructor(
    readonly version: "v1" | "v2",
    readonly mode: "v1" | "v2" | "hybrid",
    private readonly why: string,
  ) {}

  create(id: CgroupId, resources: LinuxResources): Cgroup {
    const limits = requestedLimits(resources);
    if (limits.length > 0) {
      throw new UsageError(
        `rootless: cgroup limits (${limits.join(", ")}) cannot be applied: ${this.why}, so an ordinary user has no cgroups of their own. ` +
          "Run without the limits, or as root",
      );
    }
    return new NoCgroup(id);
  }

  /** Every container "has" its empty cgroup: exec joins it, stats show "--", release removes nothing. */
  open(id: CgroupId): Cgroup {
    return new NoCgroup(id);
  }

  removeParent(): void {}
}

/** A container without a cgroup: no limits, no statistics, nothing to remove. */
class NoCgroup implements Cgroup {
  readonly paths: readonly string[] = [];
  constructor(readonly id: CgroupId) {}
  addProcess(): void {}
  pids(): number[] {
    return [];
  }
  stats() {
    return { sampledAtNs: Number(process.hrtime.bigint()) };
  }
  oomKilled(): boolean {
    return false;
  }
  update(resources: LinuxResources): void {
    if (requestedLimits(resources).length > 0) throw new UsageError(`rootless: container ${this.id} has no cgroup to apply limits to`);
  }
  remove(): void {}
}
