// The interface the runtime uses, whichever cgroup version the host has.
// The drivers (./v1, ./v2) implement it; ./detect.ts picks one.

import type { LinuxResources } from "../spec/resources";

/** A container's cgroup is named after the container: its name is unique on the host. */
export type CgroupId = string;

/** One host's cgroup hierarchy (or hierarchies, on v1), with diyc's parent directory in it. */
export interface CgroupManager {
  readonly version: "v1" | "v2";
  /** "hybrid" is v1 for the controllers diyc uses, with a cgroup2 mount beside them. */
  readonly mode: "v1" | "v2" | "hybrid";
  /**
   * Makes the container's cgroup and applies `resources`. It refuses (CgroupError,
   * EEXIST) if the cgroup exists already in any hierarchy: a leftover from a
   * container that died without clean-up must be removed on purpose (open + remove)
   * by whoever knows that container is gone, not silently reused with its old
   * processes in it. On any failure, what this call made is removed again.
   */
  create(id: CgroupId, resources: LinuxResources): Cgroup;
  /** The existing cgroup of a container, for stats and clean-up; undefined if none. */
  open(id: CgroupId): Cgroup | undefined;
  /** rmdir diyc's parent directory in every hierarchy; ENOENT is fine, EBUSY (containers left) is not. */
  removeParent(): void;
  /**
   * Where the hierarchies it places containers in are mounted. The container's
   * /sys/fs/cgroup shows only these: in any other, its cgroup would be the host's.
   */
  readonly mountpoints: readonly string[];
}

export interface Cgroup {
  readonly id: CgroupId;
  /** Every directory of this cgroup (v1: one per hierarchy), in the order they were made. */
  readonly paths: readonly string[];
  /** Moves a process into this cgroup in every hierarchy (cgroup.procs). */
  addProcess(pid: number): void;
  /** The pids in the cgroup (cgroup.procs of the first hierarchy). */
  pids(): number[];
  stats(): CgroupStats;
  /** True once the kernel's OOM killer has killed a process of this cgroup. */
  oomKilled(): boolean;
  /** Applies new limits to the running cgroup (OCI `update`); device rules stay as made. */
  update(resources: LinuxResources): void;
  /** rmdir every directory, retrying briefly on EBUSY; ENOENT is fine. */
  remove(): void;
}

/** One sample. Absent parts: the controller is not there (e.g. v2 without the memory controller). */
export interface CgroupStats {
  /** process.hrtime, in ns: CPU % is computed between two samples of the same process. */
  sampledAtNs: number;
  memory?: {
    usageBytes: number;
    /** Page cache that can be dropped at no cost; docker leaves it out of "usage". */
    inactiveFileBytes: number;
    /** undefined: no limit. */
    limitBytes?: number;
  };
  cpu?: { usageNs: number };
  pids?: { current: number; limit?: number };
}

/** Values above this are the kernel's "no limit" (v1 writes PAGE_COUNTER_MAX pages, ~2^63). */
export const UNLIMITED_THRESHOLD = 2 ** 62;

export function limitOrUndefined(value: number | undefined): number | undefined {
  return value === undefined || value >= UNLIMITED_THRESHOLD ? undefined : value;
}
