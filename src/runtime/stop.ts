// stop and kill: signals to a container's init, from outside its pid
// namespace (so even an init with no handler dies of SIGKILL), and waiting
// until the monitor has recorded the exit and cleaned up.

import { DiycError } from "../linux/errors";
import { parseSignal, SIGNALS } from "../linux/signals";
import { readConfig, readState, writeState } from "./container";
import { withContainerLock } from "../store/lock";
import { isAlive, type ProcessIdentity } from "../linux/process-identity";
import { waitUntil } from "./wait";
import type { RuntimeContext } from "./context";
import { finishContainer } from "./cleanup";
import { containerExists, containerStatus, requireContainer } from "./status";

/** How long the monitor (and its cleanup hook) may take after the init is gone. */
const CLEANUP_PATIENCE_MS = 10_000;

/**
 * SIGKILL to the init, sent from outside its pid namespace (so it cannot be
 * refused), and a wait until it is gone.
 */
export async function killInit(ctx: RuntimeContext, name: string, init: ProcessIdentity): Promise<void> {
  try {
    ctx.syscalls.kill(init.pid, SIGNALS.KILL!);
  } catch {
    // best effort: it may have exited since we looked
  }
  if (!(await waitUntil(() => !isAlive(init), 5000))) throw new DiycError(`container ${name}: init pid ${init.pid} did not exit after SIGKILL`);
}

/**
 * Sends `signal` to the container's init. Refused unless it is running.
 * Decided and sent under the container's lock, so a concurrent `rm -f` or
 * `start` cannot change which process the signal reaches.
 */
export async function killContainer(ctx: RuntimeContext, name: string, signal: number): Promise<void> {
  requireContainer(ctx.store, name);
  await withContainerLock(ctx.store, name, ctx.syscalls, () => {
    const state = containerExists(ctx.store, name) ? readState(ctx.store, name) : undefined;
    if (!state || !isAlive(state.init)) throw new DiycError(`container ${name} is not running`);
    writeState(ctx.store, name, { ...state, stopRequested: true });
    ctx.syscalls.kill(state.init.pid, signal);
  });
}

/**
 * SIGTERM, then SIGKILL after `timeoutSeconds`; returns once the container
 * has exited and its cgroup, network and --rm removal are done. A monitor
 * that was itself killed cannot clean up: then we do it here.
 */
export async function stopContainer(ctx: RuntimeContext, name: string, timeoutSeconds: number): Promise<void> {
  requireContainer(ctx.store, name);
  // Marked even when it is not running: between two runs of a restart policy
  // (the backoff), this is what keeps the next one from starting. Marked and
  // signalled under the lock, so the init signalled is the one marked.
  const state = await withContainerLock(ctx.store, name, ctx.syscalls, () => {
    if (!containerExists(ctx.store, name)) throw new DiycError(`no such container: ${name}`);
    const current = readState(ctx.store, name);
    if (!current) return undefined;
    writeState(ctx.store, name, { ...current, stopRequested: true });
    // The image's StopSignal, as docker uses it; SIGTERM otherwise.
    if (isAlive(current.init)) ctx.syscalls.kill(current.init.pid, stopSignal(readConfig(ctx.store, name)?.request.imageConfig?.stopSignal));
    return current;
  });
  if (state && isAlive(state.init)) {
    if (!(await waitUntil(() => !isAlive(state.init), timeoutSeconds * 1000))) await killInit(ctx, name, state.init);
  }
  await reconcileAfterExit(ctx, name);
}

/** The image's StopSignal ("SIGQUIT", "QUIT" or "3"), else SIGTERM. */
function stopSignal(name: string | undefined): number {
  if (name === undefined) return SIGNALS.TERM!;
  try {
    return parseSignal(name);
  } catch {
    return SIGNALS.TERM!; // an image's unknown StopSignal must not keep the container from stopping
  }
}

/** Waits for the monitor to finish its work, or does it if the monitor is gone. */
export async function reconcileAfterExit(ctx: RuntimeContext, name: string): Promise<void> {
  const state = readState(ctx.store, name);
  if (state) await waitUntil(() => !isAlive(state.monitor), CLEANUP_PATIENCE_MS);
  if (containerExists(ctx.store, name) && containerStatus(ctx.store, name).status === "exited") {
    await withContainerLock(ctx.store, name, ctx.syscalls, () => finishContainer(ctx, name));
  }
}
