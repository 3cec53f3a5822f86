// Removing a container: its directory (upper layer, config, state) and
// whatever the host still holds for it. A running container is refused
// unless forced; forced, it is killed first and its exit waited for.

import { existsSync, rmSync } from "node:fs";
import { UsageError } from "../linux/errors";
import { containerFiles, readState } from "./container";
import { ContainerLock } from "../store/lock";
import { isAlive } from "./process-identity";
import { finishContainer, type RuntimeContext } from "./run";
import { containerStatus, requireContainer } from "./status";
import { killInit } from "./stop";
import { waitUntil } from "./wait";

export async function removeContainer(ctx: RuntimeContext, name: string, force: boolean): Promise<void> {
  requireContainer(ctx.store, name);
  const lock = ContainerLock.acquire(ctx.store, name, ctx.syscalls);
  try {
    const status = containerStatus(ctx.store, name);
    if (status.status !== "exited") {
      if (!force) throw new UsageError(`container ${name} is ${status.status}; stop it first or use rm -f`);
      await killAndWait(ctx, name);
    }
    finishContainer(ctx, name);
    rmSync(containerFiles(ctx.store, name).dir, { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

/**
 * SIGKILL the init, then wait for the monitor to record the exit, so that it
 * does not write into a directory being deleted.
 */
async function killAndWait(ctx: RuntimeContext, name: string): Promise<void> {
  const state = readState(ctx.store, name);
  if (!state) return;
  await killInit(ctx, name, state.init);
  const exitFile = containerFiles(ctx.store, name).exit;
  await waitUntil(() => existsSync(exitFile) || !isAlive(state.monitor), 5000);
}
