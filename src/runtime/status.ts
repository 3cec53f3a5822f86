// A container's status is worked out from facts every time it is asked for:
// is the init (pid + start time) still there, did it pass the start barrier,
// and what did the monitor record when it ended. No cached word is trusted,
// so after a crash or a reboot a stale container reads as exited.

import { existsSync } from "node:fs";
import { DiycError } from "../linux/errors";
import { validateName } from "../spec/names";
import { exitCodeOf } from "../linux/wait-status";
import { containerFiles, readConfig, readExitRecord, readState } from "./container";
import { decideRestart } from "./restart-policy";
import { isAlive } from "../linux/process-identity";
import type { Store } from "../store/store";

export type Status = "created" | "running" | "exited";

export interface ContainerStatus {
  status: Status;
  /** Host pid of the init while it lives. */
  pid?: number;
  exitCode?: number;
  finishedAtMs?: number;
  /**
   * Exited with nobody to record it: the monitor died (killed, or a fault) and
   * its init with it (PR_SET_PDEATHSIG). The exit status is not known.
   */
  monitorLost?: boolean;
  /** Exited, and a restart policy is about to start it again (the delay between two runs). */
  restarting?: boolean;
  /** Exited a moment ago: its monitor is still recording the exit, so a restart may yet follow. */
  settling?: boolean;
}

export function containerExists(store: Store, name: string): boolean {
  return existsSync(containerFiles(store, name).dir);
}

/** Every command on a container starts here: a valid name, and a container of that name. */
export function requireContainer(store: Store, name: string): void {
  validateName("container", name);
  if (!containerExists(store, name)) throw new DiycError(`no such container: ${name}`);
}

export function containerStatus(store: Store, name: string): ContainerStatus {
  const state = readState(store, name);
  if (state && isAlive(state.init)) {
    return { status: state.startedAtMs ? "running" : "created", pid: state.init.pid };
  }
  const record = readExitRecord(store, name);
  // An exit record older than the last start belongs to an earlier run.
  if (record && (!state?.startedAtMs || record.finishedAtMs >= state.startedAtMs)) {
    // Between two runs of a restart policy: the monitor (now running its
    // clean-up hook) or the process waiting out the delay is still there, and
    // the policy says the container comes back.
    const waiting = state !== undefined && (isAlive(state.monitor) || (state.restartingBy !== undefined && isAlive(state.restartingBy)));
    const policy = waiting ? readConfig(store, name)?.request?.restart : undefined;
    const restarting = policy !== undefined &&
      decideRestart(policy, exitCodeOf(record.waitStatus), state!.restartCount ?? 0, state!.stopRequested ?? false).restart;
    return { status: "exited", exitCode: exitCodeOf(record.waitStatus), finishedAtMs: record.finishedAtMs, ...(restarting ? { restarting } : {}) };
  }
  const restarter = state?.restartingBy !== undefined && isAlive(state.restartingBy);
  if (state?.startedAtMs && !isAlive(state.monitor) && !restarter) return { status: "exited", monitorLost: true };
  // The init is gone and its monitor is still recording the exit (and draining the log):
  // what comes next (a restart, the clean-up) is not decided yet.
  if (state?.startedAtMs) return { status: "exited", settling: true };
  return { status: "exited" };
}
