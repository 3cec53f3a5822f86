// Removing a container: its directory (upper layer, config, state) and
// whatever the host still holds for it. A running container is refused
// unless forced; forced, it is killed first and its exit waited for.
//
// Whatever a crash left is removed too: a cgroup made in some hierarchies
// only, a lease or port claim without a container.json that names its
// network, a directory a create left half-made. `rm -f` always ends with
// nothing of the container left; its lock file goes when the lock is released
// (src/store/lock.ts).

import { existsSync } from "node:fs";
import { readDirIfExists } from "../store/atomic";
import { DiycError, UsageError } from "../linux/errors";
import { containerFiles, readExitRecord, readState } from "./container";
import { ContainerLock } from "../store/lock";
import { isAlive, type ProcessIdentity } from "../linux/process-identity";
import type { RuntimeContext } from "./context";
import { removeTree } from "../image/tree";
import type { RootlessIdentity } from "../linux/rootless";
import { releaseHostResources } from "./cleanup";
import { containerExists, containerStatus, requireContainer } from "./status";
import { killInit } from "./stop";
import { waitUntil } from "./wait";
import { NAME_PATTERN } from "../spec/names";
import type { Store } from "../store/store";
import type { Syscalls } from "../linux/syscalls";

export async function removeContainer(ctx: RuntimeContext, name: string, force: boolean): Promise<void> {
  requireContainer(ctx.store, name);
  const lock = ContainerLock.acquire(ctx.store, name, ctx.syscalls);
  let monitor: ProcessIdentity | undefined;
  try {
    // Decided under the lock: another rm may have removed it while we waited.
    if (!containerExists(ctx.store, name)) throw new DiycError(`no such container: ${name}`);
    const status = containerStatus(ctx.store, name);
    if (status.status !== "exited") {
      if (!force) throw new UsageError(`container ${name} is ${status.status}; stop it first or use rm -f`);
      monitor = await killAndWait(ctx, name);
    } else {
      // Exited a moment ago: its monitor may still be writing the exit record
      // into the directory (then it runs its cleanup hook, which waits for our lock).
      monitor = await monitorDone(ctx, name);
    }
    // Everything recorded under the name (the superset of what finishContainer releases: its
    // cgroup, ids and networks, whether or not container.json names them); the directory follows.
    releaseHostResources(ctx, name);
    removeDirectory(containerFiles(ctx.store, name).dir, ctx.store.rootless);
  } finally {
    lock.release();
  }
  // The killed container's monitor runs its cleanup hook, which waits for the
  // lock we just released and then finds nothing to do. Done when that is
  // done, so that nothing of the container (not even the hook's lock file)
  // outlives this command.
  if (monitor) await waitUntil(() => !isAlive(monitor), 10_000);
}

/**
 * SIGKILL the init, then wait for the monitor to record the exit, so that it
 * does not write into a directory being deleted.
 */
async function killAndWait(ctx: RuntimeContext, name: string): Promise<ProcessIdentity | undefined> {
  const state = readState(ctx.store, name);
  if (!state) return undefined;
  await killInit(ctx, name, state.init);
  return monitorDone(ctx, name);
}

/**
 * Waits until the monitor of the container's last run has written its exit
 * record (or is gone); returns the monitor if it is still there (running the
 * cleanup hook, or about to).
 */
async function monitorDone(ctx: RuntimeContext, name: string): Promise<ProcessIdentity | undefined> {
  const state = readState(ctx.store, name);
  if (!state || !isAlive(state.monitor)) return undefined;
  const recorded = () => {
    const record = readExitRecord(ctx.store, name);
    return record !== undefined && record.finishedAtMs >= (state.startedAtMs ?? state.createdAtMs);
  };
  await waitUntil(() => recorded() || !isAlive(state.monitor), 5000);
  return isAlive(state.monitor) ? state.monitor : undefined;
}

/**
 * Deletes the container's directory, and checks that it is gone: a recursive
 * removal that races a writer (a file renamed in meanwhile) can leave part of
 * the tree behind, and `rm` must not say it removed what is still there.
 */
function removeDirectory(dir: string, rootless: RootlessIdentity | undefined): void {
  for (let attempt = 0; ; attempt++) {
    removeTree(dir, rootless);
    if (!existsSync(dir)) return;
    if (attempt === 20) throw new DiycError(`could not remove ${dir}: something keeps writing into it`);
    Bun.sleepSync(10);
  }
}

/**
 * Removes the lock files of names that have no container: a `diyc run`
 * killed after it took the name's lock but before it claimed the name
 * (mkdir) leaves one, and no `rm NAME` can name it. Each is taken without
 * waiting (one that is held belongs to a command at work) and released, which
 * unlinks it since its container is gone (src/store/lock.ts). `rm` does this
 * after its own work, and `ps` before it lists.
 */
export function sweepStaleLocks(store: Store, syscalls: Syscalls): void {
  for (const entry of readDirIfExists(store.locksDir)) {
    const name = entry.endsWith(".lock") ? entry.slice(0, -".lock".length) : "";
    if (!NAME_PATTERN.test(name) || containerExists(store, name)) continue;
    ContainerLock.tryAcquire(store, name, syscalls)?.release();
  }
}
