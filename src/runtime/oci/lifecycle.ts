// The rest of the OCI lifecycle (runtime-spec runtime.md#lifecycle):
//   start   open exec.fifo for reading: the parked init writes one byte and execs
//   kill    a signal to the init, or (--all) to every process in its cgroup
//   delete  of a stopped container; --force kills it first
//   run     create + start; in the foreground the helper is the monitor and
//           diyc-oci waits for the exit, as `runc run` does
// The status each needs is worked out from pids and files (./state.ts).

import { exitCodeOf } from "../../linux/wait-status";
import { closeSync, constants, existsSync, openSync, readSync, unlinkSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { DiycError, Errno, UsageError } from "../../linux/errors";
import { parseSignal, SIGNALS } from "../../linux/signals";
import { Sync } from "../helper-channel";
import { isAlive } from "../../linux/process-identity";
import { cgroupManagerFor, DEFAULT_OCI_CGROUP_PARENT, removeOciCgroup } from "./cgroup";
import { freezerOf, isFrozen } from "./freezer";
import { removeSideCgroups } from "./side-limits";
import { createOciContainer, type CreateRequest } from "./create";
import { runHooksWarning } from "./hooks";
import {
  containerPaths, isSyscallErrno, NotFoundError, OciLock, readContainer, removeContainerDir, stateDocument, statusOf, withContainer,
  type OciContainerState, type OciContext,
} from "./state";

/** How long start waits for the init to open its end of the FIFO. */
const START_TIMEOUT_MS = 10_000;

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException)?.code === code;
}

/**
 * Releases the init. The FIFO is opened without blocking: a blocking open
 * would hang forever if the init died meanwhile. Until the init has opened
 * its end, a read says EOF; then EAGAIN until its byte arrives.
 */
async function releaseInit(ctx: OciContext, state: OciContainerState): Promise<void> {
  const { fifo } = containerPaths(ctx.root, state.id);
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const byte = Buffer.alloc(1);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        if (readSync(fd, byte, 0, 1, null) === 1) break;
      } catch (error) {
        if (!isErrno(error, "EAGAIN")) throw error;
      }
      if (!isAlive(state.init)) throw new DiycError(`container ${state.id}: its init (pid ${state.init.pid}) is gone`);
      if (Date.now() > deadline) throw new DiycError(`container ${state.id}: its init did not take the start signal within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(1);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
}

export async function startOciContainer(ctx: OciContext, id: string, warn: (message: string) => void): Promise<void> {
  await withContainer(ctx, id, async (state) => {
    const status = statusOf(ctx, state, () => isFrozen(state));
    if (status !== "created") throw new UsageError(`cannot start container ${id}: it is ${status}, not created`);
    ctx.debug?.(`start: open ${containerPaths(ctx.root, id).fifo}`);
    // The startContainer hooks (run by the init) read this: in place, the init holds it open.
    if (state.spec.hooks?.startContainer?.length) writeFileSync(containerPaths(ctx.root, id).hookState, JSON.stringify(stateDocument(ctx, state, "created")));
    await releaseInit(ctx, state);
    runHooksWarning(state.spec.hooks, "poststart", stateDocument(ctx, state, "running"), warn);
  });
}

function signalBestEffort(ctx: OciContext, pid: number, signal: number): void {
  try {
    ctx.syscalls.kill(pid, signal);
  } catch (error) {
    if (!isSyscallErrno(error, Errno.ESRCH)) throw error;
    // gone between the listing and the signal: nothing to signal
  }
}

/** The pids in the container's cgroup (none if it is gone). */
export function cgroupPids(state: OciContainerState): number[] {
  return cgroupManagerFor(state.cgroup).open(state.cgroup.name)?.pids() ?? [];
}

/** kill's signal: SIGTERM when none is given (runc's default), else as parseSignal reads it. */
export function parseOciSignal(text: string | undefined): number {
  return text === undefined ? SIGNALS.TERM! : parseSignal(text);
}

/**
 * The spec: kill of a container that is neither created nor running is an
 * error ("container not running", the words the containerd shim looks for).
 * --all (runc's extension) signals whatever is left in the cgroup, and is
 * not an error once the init is gone: the containerd shim sends it to clean
 * up after an exit, when the pid namespace may already be empty.
 */
export function killOciContainer(ctx: OciContext, id: string, signal: number, all: boolean): void {
  const state = readContainer(ctx, id);
  const status = statusOf(ctx, state);
  if (all) {
    const pids = cgroupPids(state);
    if (status !== "stopped") signalBestEffort(ctx, state.init.pid, signal);
    for (const pid of pids) signalBestEffort(ctx, pid, signal);
    return;
  }
  if (status === "stopped") throw new DiycError(`container ${id} is not running`);
  ctx.syscalls.kill(state.init.pid, signal);
}

/** SIGKILL everything, then wait until the init and the cgroup are empty. */
async function killAndWait(ctx: OciContext, state: OciContainerState): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = cgroupPids(state);
    const initAlive = isAlive(state.init);
    if (!initAlive && pids.length === 0) return;
    if (initAlive) signalBestEffort(ctx, state.init.pid, SIGNALS.KILL!);
    for (const pid of pids) signalBestEffort(ctx, pid, SIGNALS.KILL!);
    // A frozen process cannot act on SIGKILL until it is thawed.
    if (isFrozen(state)) await freezerOf(state)!.thaw();
    if (Date.now() > deadline) throw new DiycError(`container ${state.id}: its processes did not exit after SIGKILL`);
    await sleep(2);
  }
}

/** Removes what the host holds for a stopped container: cgroup, state; then the poststop hooks. */
function removeStopped(ctx: OciContext, state: OciContainerState, warn: (message: string) => void): void {
  removeOciCgroup(cgroupManagerFor(state.cgroup, ctx.debug), state.cgroup);
  const freezer = freezerOf(state);
  freezer?.remove();
  if (state.cgroup.parent === DEFAULT_OCI_CGROUP_PARENT) freezer?.removeParent();
  removeSideCgroups(state.cgroup);
  runHooksWarning(state.spec.hooks, "poststop", stateDocument(ctx, state, "stopped"), warn);
  removeContainerDir(ctx, state.id);
}

export async function deleteOciContainer(ctx: OciContext, id: string, force: boolean, warn: (message: string) => void): Promise<void> {
  try {
    await withContainer(ctx, id, async (state) => {
      const status = statusOf(ctx, state, () => isFrozen(state));
      if (status !== "stopped" && !force) throw new UsageError(`cannot delete container ${id} that is not stopped: it is ${status} (use --force)`);
      // A stopped container may still have processes in its cgroup (no pid
      // namespace of its own): what create made goes, so they go too.
      if (status !== "stopped" || cgroupPids(state).length > 0) await killAndWait(ctx, state);
      removeStopped(ctx, state, warn);
    });
  } catch (error) {
    // --force on a container that is already gone is done. A directory
    // without a state file is what a create killed half-way leaves: with the
    // lock held (no create is running on it), it is removed.
    if (force && error instanceof NotFoundError) return removeHalfMade(ctx, id);
    throw error;
  }
}

function removeHalfMade(ctx: OciContext, id: string): void {
  const { dir, state } = containerPaths(ctx.root, id);
  let lock: OciLock;
  try {
    lock = OciLock.take(ctx.syscalls, dir);
  } catch {
    return; // no directory either: nothing is left
  }
  try {
    if (!existsSync(state)) removeContainerDir(ctx, id);
  } finally {
    lock.release();
  }
}

const FORWARDED = ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

/**
 * `run`: create + start. Detached, it returns once started, like create then
 * start. In the foreground the helper stays as the monitor (it relays the
 * terminal too), diyc-oci forwards signals to the init and returns its exit
 * status, and deletes the container afterwards.
 */
export async function runOciContainer(ctx: OciContext, request: CreateRequest & { detach: boolean }, warn: (message: string) => void): Promise<number> {
  if (request.detach) {
    await createOciContainer(ctx, { ...request, foreground: false });
    await startOciContainer(ctx, request.id, warn);
    return 0;
  }
  const created = await createOciContainer(ctx, { ...request, foreground: true });
  const channel = created.channel!;
  const forward = (signal: string) => () => signalBestEffort(ctx, created.state.init.pid, SIGNALS[signal.slice(3)]!);
  const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
  try {
    channel.send(Sync.Start);
    channel.expect(Sync.Started, "start the command");
    runHooksWarning(created.state.spec.hooks, "poststart", stateDocument(ctx, created.state, "running"), warn);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const message = await channel.receiveAsync();
    if (message?.type !== Sync.Exit) throw channel.failure(message, "report the exit status");
    return exitCodeOf(message.a);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    channel.close();
    await channel.helper.exited;
    await deleteOciContainer(ctx, request.id, true, warn);
  }
}
