// The runtime's side of cgroups: every container gets a cgroup of its own,
// and its init is placed there while it waits at the sync barrier, before any
// of its code runs. After the exit, the cgroup tells whether the OOM killer
// struck, and is removed. The cgroup work itself is in src/cgroups/.

import { accessSync, constants, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  CgroupError, detectCgroupManager, hostCgroupFs, type CgroupFs, parseCgroupMounts, tracedCgroupFs, V2CgroupManager, type Cgroup, type CgroupManager,
} from "../cgroups/index";
import { UndelegatedCgroups } from "../cgroups/undelegated";
import { Errno } from "../linux/errors";
import { SIGNALS } from "../linux/signals";
import type { Log } from "../linux/trace";
import { termSignalOf } from "../linux/wait-status";
import type { CgroupView } from "../plan/compile";
import type { LinuxResources } from "../spec/resources";
import { DEFAULT_ROOT, type Store } from "../store/store";

/**
 * The parent cgroup of a store's containers: "diyc" for the default store,
 * "diyc-<hash of the root>" for any other, so two stores (a test's and the
 * user's) never share a cgroup name. Rootless on cgroup v2, it sits in the
 * subtree delegated to the user (delegatedSubtree).
 */
export function cgroupParentFor(store: Store): string {
  const delegated = store.rootless ? delegatedSubtree() : undefined;
  return delegated === undefined ? storeCgroupName(store) : `${delegated}/${storeCgroupName(store)}`;
}

/** The store's own level of cgroups, wherever it is placed. */
function storeCgroupName(store: Store): string {
  return store.root === DEFAULT_ROOT ? "diyc" : `diyc-${new Bun.CryptoHasher("sha256").update(store.root).digest("hex").slice(0, 10)}`;
}

let mountinfo: string | undefined;

/**
 * The host's mount table, read once per diyc process: the cgroup detection,
 * the migration priming and the container's /sys/fs/cgroup all need it, and
 * cgroup mounts do not change during one command.
 */
export function hostMountinfo(): string {
  return (mountinfo ??= readFileSync("/proc/self/mountinfo", "utf8"));
}

/**
 * Starts the kernel's slow path of cgroup migration early, on another thread.
 *
 * On cgroup v1 the first write to any cgroup.procs after a quiet spell waits
 * for an RCU grace period (8-10 ms here: cgroup_threadgroup_rwsem's
 * rcu_sync_enter; measured in bench/results/cgroups.md), and migrations in
 * the following ~8 ms are fast. runc pays that wait on its start path. We
 * move diyc itself into the cgroup it is already in (a no-op for the
 * process, but it takes the same lock) on a worker thread, while the main
 * thread builds the container; when the init is moved into its own cgroup
 * a few ms later, the wait has already been paid.
 */
export function primeCgroupMigration(mountinfo = hostMountinfo()): string | undefined {
  const mounts = parseCgroupMounts(mountinfo);
  // Any one hierarchy will do: the lock is global. "" stands for v2's single one.
  const [controller, mountpoint] = [...mounts.v1][0] ?? ["", mounts.v2];
  if (!mountpoint) return undefined;
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n")
    .map((line) => line.split(":"))
    .find(([, controllers]) => (controller === "" ? controllers === "" : controllers?.split(",").includes(controller)))?.[2];
  if (own === undefined) return undefined;
  const procs = `${mountpoint}${own === "/" ? "" : own}/cgroup.procs`;
  writeFile(procs, String(process.pid)).catch(() => {
    // best effort: an optimisation only; the real migration reports its own errors
  });
  return procs;
}

export function hostCgroups(store: Store, log?: Log, fs?: CgroupFs): CgroupManager {
  if (store.rootless) return rootlessCgroups(store, log);
  return detectCgroupManager({ parent: cgroupParentFor(store), log, mountsText: hostMountinfo(), fs });
}

/**
 * An ordinary user may make cgroups only in a subtree root delegated to them
 * (cgroup v2: the directory and its cgroup.procs, cgroup.subtree_control and
 * cgroup.threads are theirs, as systemd's Delegate=yes does), and move
 * processes only within it. diyc's own cgroup must be inside it, below its
 * top: the top itself may hold no process once it enables controllers for
 * its children (v2's "no internal processes" rule).
 *
 * That subtree is the highest ancestor of diyc's cgroup, below the root, that
 * the user may write. Relative to the cgroup2 mount; undefined if none.
 */
export function delegatedSubtree(mountinfo = hostMountinfo(), procSelfCgroup = () => readFileSync("/proc/self/cgroup", "utf8")): string | undefined {
  const mounts = parseCgroupMounts(mountinfo);
  const mount = mounts.v2;
  if (!mount || mounts.v1.size > 0) return undefined;
  const own = procSelfCgroup().split("\n").find((line) => line.startsWith("0::"))?.slice(3);
  if (!own) return undefined;
  const parts = own.split("/").filter(Boolean);
  // Strict ancestors only, from the top down: the first one that is the user's is where the delegation starts.
  for (let depth = 1; depth < parts.length; depth++) {
    const dir = join(mount, ...parts.slice(0, depth));
    const mine = ["", "cgroup.procs", "cgroup.subtree_control"].every((file) => {
      try {
        accessSync(join(dir, file), constants.W_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (mine) return parts.slice(0, depth).join("/");
  }
  return undefined;
}

/**
 * Rootless: the delegated v2 subtree when there is one (containers' cgroups
 * under it, limits as for root), else no cgroups (cgroups/undelegated.ts),
 * and limits asked for are refused clearly.
 */
function rootlessCgroups(store: Store, log?: Log): CgroupManager {
  const mountinfo = hostMountinfo();
  const mounts = parseCgroupMounts(mountinfo);
  if (mounts.v1.size > 0) return new UndelegatedCgroups("v1", mounts.v2 ? "hybrid" : "v1", "this host's cgroups are v1, which cannot be delegated to an ordinary user");
  const delegated = delegatedSubtree(mountinfo);
  if (delegated === undefined || !mounts.v2) {
    return new UndelegatedCgroups("v2", "v2", "diyc's cgroup is in no cgroup v2 subtree delegated to you (run it in one, e.g. under systemd-run --user --scope)");
  }
  // Rooted at the delegated subtree: the levels above it are root's, and diyc enables nothing there.
  const fs = log === undefined ? hostCgroupFs : tracedCgroupFs(hostCgroupFs, log);
  return new V2CgroupManager({ root: join(mounts.v2, delegated), parent: storeCgroupName(store), fs, noDeviceProgram: true });
}

/** Creates the container's cgroup with its limits, and moves the init into it. */
/**
 * Creates the container's cgroup with its limits. It needs no pid, so the
 * runtime does it while the helper starts and clones; the init is moved in
 * afterwards (Cgroup.addProcess), still before any of its code runs.
 */
export function createContainerCgroup(cgroups: CgroupManager, name: string, resources: LinuxResources | undefined): Cgroup {
  // A cgroup left by a container whose diyc and monitor both died: it holds
  // no live process of ours (the name's lock is held and its init is dead).
  cgroups.open(name)?.remove();
  try {
    return cgroups.create(name, resources ?? {});
  } catch (error) {
    // Another container of this store may have just removed the shared parent
    // (releaseCgroup, when it looked empty): make it again, once.
    if (!(error instanceof CgroupError && error.errno === Errno.ENOENT)) throw error;
    return cgroups.create(name, resources ?? {});
  }
}

export interface CgroupOutcome {
  /** The OOM killer ended the container: it killed a process there, and the init died of SIGKILL. */
  oomKilled: boolean;
  /** The OOM killer killed some process in the container (the init, or another that the init outlived). */
  processOomKilled?: boolean;
  memoryLimitBytes?: number;
}

/** A wait status (as waitpid gives it) of a process killed by SIGKILL. */
function killedBySigkill(waitStatus: number): boolean {
  return termSignalOf(waitStatus) === SIGNALS.KILL;
}

/**
 * After the exit: read what the OOM killer did, then remove the cgroup (and
 * the parent once empty). The cgroup only counts OOM kills (v1's
 * memory.oom_control oom_kill, v2's memory.events); whether the init was the
 * one killed comes from its wait status: an init that outlived an OOM-killed
 * child and exited by itself was not killed. Without a wait status (its
 * monitor died before recording one) an OOM kill counts as the init's.
 */
export function releaseCgroup(cgroups: CgroupManager, name: string, initWaitStatus?: number): CgroupOutcome {
  const cgroup = cgroups.open(name);
  if (!cgroup) return { oomKilled: false };
  const processOomKilled = cgroup.oomKilled();
  const oomKilled = processOomKilled && (initWaitStatus === undefined || killedBySigkill(initWaitStatus));
  const memoryLimitBytes = processOomKilled ? cgroup.stats().memory?.limitBytes : undefined;
  cgroup.remove();
  try {
    cgroups.removeParent();
  } catch {
    // best effort: other containers of this store still live in the parent
  }
  return { oomKilled, processOomKilled, memoryLimitBytes };
}

/**
 * What the container's read-only /sys/fs/cgroup shows: the v1 hierarchies
 * diyc places it in (one mount per hierarchy, co-mounted controllers
 * together), or the unified v2 tree. Inside the container's
 * cgroup namespace, each shows the container's own cgroup as its root.
 */
export function cgroupViewForContainers(cgroups: CgroupManager, mountinfo = hostMountinfo()): CgroupView {
  if (cgroups.version === "v2") return { version: "v2" };
  const mounts = parseCgroupMounts(mountinfo);
  const byMountpoint = new Map<string, string[]>();
  for (const [controller, mountpoint] of mounts.v1) {
    // Hierarchies without a cgroup of the container's (freezer, blkio) would show it the host's.
    if (!cgroups.mountpoints.includes(mountpoint)) continue;
    byMountpoint.set(mountpoint, [...(byMountpoint.get(mountpoint) ?? []), controller]);
  }
  const hierarchies = [...byMountpoint].map(([mountpoint, controllers]) => ({ directory: basename(mountpoint), controllers: controllers.join(",") }));
  return { version: "v1", hierarchies };
}

/**
 * The view with the container's own cgroup directories on the host, for a
 * container that binds them instead of mounting cgroup filesystems (no
 * cgroup namespace, or a user namespace, where cgroup v1 cannot be mounted).
 */
export function withOwnCgroup(view: CgroupView, parent: string, name: string, mountinfo = hostMountinfo()): CgroupView {
  const mounts = parseCgroupMounts(mountinfo);
  if (view.version === "v2") return mounts.v2 ? { ...view, ownCgroup: join(mounts.v2, parent, name) } : view;
  const byDirectory = new Map([...mounts.v1.values()].map((mountpoint) => [basename(mountpoint), mountpoint]));
  return {
    ...view,
    hierarchies: view.hierarchies.map((h) => {
      const mountpoint = byDirectory.get(h.directory);
      return mountpoint ? { ...h, ownCgroup: join(mountpoint, parent, name) } : h;
    }),
  };
}

