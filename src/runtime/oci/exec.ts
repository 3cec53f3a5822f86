// `diyc-oci exec`: a new process in a running container, compiled with the
// same exec plan as `diyc exec` (join the init's namespaces, fork, drop to
// the process's privileges, exec). With --detach the helper leaves once the
// command runs, and the caller (conmon, the containerd shim: subreapers)
// waits for it; otherwise diyc-oci waits and returns its exit status.

import { exitCodeOf } from "../../linux/wait-status";
import { resolve } from "node:path";
import { lastCapability } from "../../linux/capabilities";
import { DiycError, UsageError } from "../../linux/errors";
import { encodePlan } from "../../plan/encode";
import { compileExecPlan } from "../../plan/exec";
import type { Process } from "../../spec/oci";
import { writeFileAtomic } from "../../store/atomic";
import { HelperChannel, Sync } from "../helper-channel";
import { cgroupManagerFor } from "./cgroup";
import { applyProcessPriorities, preservedFds } from "./create";
import { readContainer, statusOf, type OciContext } from "./state";

export interface OciExecRequest {
  id: string;
  process: Process;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
}

export async function execInOciContainer(ctx: OciContext, request: OciExecRequest): Promise<number> {
  const state = readContainer(ctx, request.id);
  const status = statusOf(ctx, state);
  if (status !== "running" && status !== "created") throw new DiycError(`cannot exec in container ${request.id}: it is ${status}`);
  const proc = request.process;
  const preserved = preservedFds(request.preserveFds ?? 0);
  if (proc.terminal && !request.consoleSocket && request.detach) {
    throw new UsageError("a terminal for a detached process needs --console-socket (the caller owns the terminal)");
  }
  const consoleSocket = request.consoleSocket === undefined ? undefined
    : { path: resolve(request.consoleSocket), rows: proc.consoleSize?.height ?? 0, cols: proc.consoleSize?.width ?? 0 };
  const plan = compileExecPlan(
    state.init.pid, state.spec.linux.namespaces.map((ns) => ns.type), proc, lastCapability(),
    state.spec.linux.seccomp, { consoleSocket, leave: request.detach, preserveFds: preserved.length },
  );
  const cgroup = cgroupManagerFor(state.cgroup).open(state.cgroup.name);
  if (!cgroup) throw new DiycError(`container ${request.id} has no cgroup: its limits could not apply to the new process`);

  const channel = HelperChannel.open(plan, encodePlan(plan, ctx.debug !== undefined), ctx.syscalls, undefined, preserved);
  try {
    const pid = channel.expect(Sync.Pid, "join the container").a;
    ctx.debug?.(`exec: process is pid ${pid}`);
    cgroup.addProcess(pid);
    applyProcessPriorities(ctx, proc, pid);
    channel.send(Sync.Continue);
    channel.expect(Sync.Ready, "set up the process");
    channel.send(Sync.Start);
    channel.expect(Sync.Started, "start the command");
    if (request.pidFile) writeFileAtomic(resolve(request.pidFile), String(pid));
    if (request.detach) return 0;
    const exit = await channel.receiveAsync();
    if (exit?.type !== Sync.Exit) throw channel.failure(exit, "report the exit status");
    return exitCodeOf(exit.a);
  } finally {
    channel.close();
    await channel.helper.exited;
  }
}
