// `diyc-oci create` (and `run`): a bundle's config.json, compiled to the same
// plan as `diyc run`, executed by the same helper. The difference is who
// stays: here the caller (conmon, the containerd shim) is the monitor. The
// plan's StartFifo makes the init park on exec.fifo after READY and the
// helper leave, so the init's parent becomes the caller's subreaper; a later
// `diyc-oci start` opens the FIFO. The ladder is in native/protocol.h.
//
// Order, as for `diyc run`: everything that can be refused is checked before
// the id is claimed; the cgroup is made while the helper clones; the init is
// placed in it, its id maps and oom_score_adj written, and the prestart and
// createRuntime hooks run, all while it waits at CONTINUE. Any failure undoes
// every step (the helper kills the init when our end of its socket closes).

import { chmodSync, chownSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { lastCapability } from "../../linux/capabilities";
import { DiycError, UsageError } from "../../linux/errors";
import { compileContainerPlan, type CgroupView, type OciLaunch } from "../../plan/compile";
import { encodePlan } from "../../plan/encode";
import { ioprioValue, schedAttr } from "../../linux/scheduling";
import { loadBundle } from "../../spec/bundle";
import type { IdMapping, Spec } from "../../spec/oci";
import { writeFileAtomic } from "../../store/atomic";
import { HelperChannel, Sync } from "../helper-channel";
import { identify, isAlive, type ProcessIdentity } from "../../linux/process-identity";
import { cgroupViewForContainers, primeCgroupMigration, withOwnCgroup } from "../limits";
import { cgroupManagerFor, cgroupPlace, createOciCgroup, removeOciCgroup } from "./cgroup";
import { freezerOf } from "./freezer";
import { applySideLimits, applyUnified, removeSideCgroups } from "./side-limits";
import { runHooks } from "./hooks";
import { writeIdMaps } from "../userns";
import {
  claimId, containerPaths, OciLock, removeContainerDir, stateDocument, validateId, writeContainer,
  type CgroupPlace, type OciContainerState, type OciContext,
} from "./state";

const S_IFIFO = 0o010000;

export interface CreateRequest {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** --preserve-fds: only 0 is supported. */
  preserveFds?: number;
  /**
   * `run` without -d: no FIFO, the helper stays as the monitor (as for
   * `diyc run`), and diyc-oci waits for the exit itself.
   */
  foreground?: boolean;
}

export interface CreatedOci {
  state: OciContainerState;
  /** Open only in the foreground: the helper waits for START on it. */
  channel?: HelperChannel;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing source fails later, at the mount, with its path
  }
}

/**
 * --preserve-fds N: our fds 3..3+N-1, as the caller gave them (socket
 * activation, podman --preserve-fds). As with runc, the caller vouches that
 * they are its own: Bun's own descriptors would take those numbers if the
 * caller left them free, and cannot be told apart.
 */
export function preservedFds(count: number): number[] {
  if (!Number.isInteger(count) || count < 0 || count > 1000) throw new UsageError(`invalid --preserve-fds ${count}`);
  return Array.from({ length: count }, (_, i) => 3 + i);
}

/** SIGKILL a parked init whose helper has left, and wait (briefly) until it is gone. */
async function killAndForget(ctx: OciContext, init: ProcessIdentity): Promise<void> {
  if (!isAlive(init)) return;
  try {
    ctx.syscalls.kill(init.pid, 9);
  } catch {
    return; // gone in between
  }
  for (let i = 0; i < 500 && isAlive(init); i++) await Bun.sleep(2);
}

/** The host's id for an id inside the container's user namespace (itself without one). */
function hostId(mappings: IdMapping[] | undefined, id: number): number {
  if (!mappings) return id;
  const range = mappings.find((m) => id >= m.containerID && id < m.containerID + m.size);
  if (!range) throw new UsageError(`process.user: id ${id} is not mapped by linux.uidMappings/gidMappings`);
  return range.hostID + (id - range.containerID);
}

/**
 * Scheduling policy, I/O priority and oom_score_adj: set from the host on a
 * process that has not run anything of its own yet; execve keeps them.
 */
export function applyProcessPriorities(ctx: OciContext, proc: Spec["process"], pid: number): void {
  if (proc.scheduler) ctx.syscalls.schedSetattr(pid, schedAttr(proc.scheduler));
  if (proc.ioPriority) ctx.syscalls.ioprioSet(pid, ioprioValue(proc.ioPriority));
  if (proc.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(proc.oomScoreAdj));
}

/** Parent-side set-up while the init waits at CONTINUE: id maps, priorities. */
function prepareInit(ctx: OciContext, spec: Spec, pid: number): void {
  writeIdMaps(pid, spec.linux.uidMappings, spec.linux.gidMappings);
  applyProcessPriorities(ctx, spec.process, pid);
}

/** The host paths of the container's cgroup in each hierarchy: bound into a container without a cgroup namespace. */
function ownCgroupView(view: CgroupView, place: CgroupPlace): CgroupView {
  return withOwnCgroup(view, place.parent, place.name);
}

export async function createOciContainer(ctx: OciContext, request: CreateRequest): Promise<CreatedOci> {
  const id = validateId(request.id);
  // The kernel's first cgroup migration after a quiet spell waits for an RCU
  // grace period (~8 ms on v1): paid on another thread while we read the bundle.
  primeCgroupMigration();
  const preserved = preservedFds(request.preserveFds ?? 0);
  const bundle = resolve(request.bundle);
  const { spec, rootfs } = loadBundle(bundle);
  if (spec.process.terminal && !request.consoleSocket && !request.foreground) {
    throw new UsageError("process.terminal is true: --console-socket is required (the caller owns the terminal)");
  }
  const place = cgroupPlace(spec, id);
  const consoleSocket = request.consoleSocket ? resolve(request.consoleSocket) : undefined;
  const pidFile = request.pidFile ? resolve(request.pidFile) : undefined;

  const dir = claimId(ctx, id);
  const lock = OciLock.take(ctx.syscalls, dir);
  const paths = containerPaths(ctx.root, id);
  let channel: HelperChannel | undefined;
  let cgroupMade = false;
  let init: ProcessIdentity | undefined;
  try {
    const manager = cgroupManagerFor(place, ctx.debug);
    const oci: OciLaunch = {
      preserveFds: preserved.length,
      hookState: paths.hookState,
      consoleSocket: consoleSocket === undefined ? undefined : { path: consoleSocket, rows: spec.process.consoleSize?.height ?? 0, cols: spec.process.consoleSize?.width ?? 0 },
    };
    if (!request.foreground) {
      // The init opens it for writing after it has dropped to the process's
      // user and capabilities: 0622, owned by that user (as runc's exec.fifo).
      ctx.syscalls.mknod(paths.fifo, S_IFIFO | 0o622, 0);
      chmodSync(paths.fifo, 0o622); // mknod applied our umask
      chownSync(paths.fifo, hostId(spec.linux.uidMappings, spec.process.user.uid), hostId(spec.linux.gidMappings, spec.process.user.gid));
      oci.startFifo = paths.fifo;
    }
    const plan = compileContainerPlan({
      spec,
      rootfs: { path: rootfs },
      isDirectory,
      cgroupView: ownCgroupView(cgroupViewForContainers(manager), place),
      oci,
    }, lastCapability());
    ctx.debug?.(`spawn the helper with a plan of ${plan.ops.length} steps`);
    channel = HelperChannel.open(plan, encodePlan(plan, ctx.debug !== undefined), ctx.syscalls, undefined, preserved);
    // While the helper starts and clones: the cgroup needs no pid.
    const cgroup = createOciCgroup(manager, place, spec.linux.resources ?? {});
    cgroupMade = true;
    const pid = channel.expect(Sync.Pid, "clone the container").a;
    init = identify(pid);
    if (!init) throw new DiycError(`container ${id}: its init (pid ${pid}) died during set-up`);
    ctx.debug?.(`init is pid ${pid}; cgroup ${place.parent}/${place.name}`);
    cgroup.addProcess(pid);
    freezerOf({ cgroup: place })?.join(pid);
    applySideLimits(place, spec.linux.resources ?? {}, pid, manager.version);
    applyUnified(cgroup, spec.linux.resources ?? {}, manager.version);
    prepareInit(ctx, spec, pid);
    const state: OciContainerState = { id, bundle, rootfs, createdAt: new Date().toISOString(), init, cgroup: place, spec };
    writeContainer(ctx, state);
    const creating = stateDocument(ctx, state, "creating");
    // What the init's own hooks (createContainer, startContainer) read on stdin; rewritten in place at start.
    if (spec.hooks?.createContainer?.length || spec.hooks?.startContainer?.length) writeFileSync(paths.hookState, JSON.stringify(creating));
    runHooks(spec.hooks, "prestart", creating);
    runHooks(spec.hooks, "createRuntime", creating);

    channel.send(Sync.Continue);
    channel.expect(Sync.Ready, "set up the container");
    if (!request.foreground) {
      // The helper leaves once READY is relayed: wait for it, so that the
      // init's parent is the caller's subreaper before we say "created".
      await channel.helper.exited;
      channel.close();
      channel = undefined;
    }
    if (pidFile) writeFileAtomic(pidFile, String(pid));
    return { state, channel };
  } catch (error) {
    if (channel) {
      channel.close();
      await channel.helper.exited; // it kills the init before it exits
    } else if (init) {
      // The helper has left already (a failure after READY): the parked init is ours to end.
      await killAndForget(ctx, init);
    }
    const undo = [
      () => cgroupMade && removeOciCgroup(cgroupManagerFor(place), place),
      () => freezerOf({ cgroup: place })?.remove(),
      () => removeSideCgroups(place),
      () => removeContainerDir(ctx, id),
    ];
    for (const step of undo) {
      try {
        step();
      } catch {
        // best effort: every undo step runs; the error shown is the original one
      }
    }
    throw error;
  } finally {
    lock.release();
  }
}
