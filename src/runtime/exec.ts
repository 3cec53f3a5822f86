// `diyc exec`: a new process inside a running container, with the same
// namespaces, cgroup, capabilities and no_new_privs as its init.

import { lastCapability } from "../linux/capabilities";
import { DiycError, UsageError } from "../linux/errors";
import { encodePlan } from "../plan/encode";
import { compileExecPlan } from "../plan/exec";
import { capabilitiesFor, containerEnv, validateCwd } from "../spec/container-spec";
import type { Process } from "../spec/oci";
import { readConfig, readState } from "./container";
import { HelperChannel } from "./helper-channel";
import { isAlive } from "../linux/process-identity";
import type { RuntimeContext } from "./context";
import { requireContainer } from "./status";

export interface ExecRequest {
  args: string[];
  env: string[];
  cwd?: string;
  user?: { uid: number; gid: number };
  /** -i: the process reads diyc's stdin; otherwise /dev/null. */
  interactive: boolean;
  /** -t: a pty, relayed to diyc's terminal. */
  terminal: boolean;
  /**
   * -d: return once the process runs. The helper leaves; the process, in the
   * container's pid namespace, is then the container's pid 1's to reap (as
   * with docker). Its output goes nowhere.
   */
  detach?: boolean;
}

export async function execInContainer(ctx: RuntimeContext, name: string, request: ExecRequest): Promise<number> {
  requireContainer(ctx.store, name);
  const config = readConfig(ctx.store, name);
  const state = readState(ctx.store, name);
  if (!config || !state?.startedAtMs || !isAlive(state.init)) throw new DiycError(`container ${name} is not running`);
  const base = config.spec.process;
  const user = request.user ?? base.user;
  const proc: Process = {
    ...base,
    args: request.args,
    // The container's environment, then -e; HOSTNAME and PATH as the container has them.
    terminal: request.terminal,
    env: containerEnv({ env: [...base.env, ...request.env], terminal: request.terminal }, config.spec.hostname ?? name),
    cwd: request.cwd === undefined ? base.cwd : validateCwd(request.cwd),
    user: { uid: user.uid, gid: user.gid, additionalGids: [] },
    // Exactly the init's set for the init's user; for another user, the same bounding set.
    capabilities: user.uid === base.user.uid ? base.capabilities : capabilitiesFor(user.uid, base.capabilities.bounding),
  };
  if (request.detach && request.terminal) throw new UsageError("exec -d cannot have a terminal (-t): nobody would be at it");
  const plan = compileExecPlan(state.init.pid, config.spec.linux.namespaces.map((ns) => ns.type), proc, lastCapability(), config.spec.linux.seccomp,
    request.detach ? { leave: true } : undefined);
  for (const op of plan.ops.filter((o) => o.code === "JoinNamespace")) ctx.trace?.host(op.describe);

  const stdio = request.detach
    ? (["ignore", "ignore", "ignore"] as const)
    : ([request.interactive || request.terminal ? "inherit" : "ignore", "inherit", "inherit"] as const);
  const channel = HelperChannel.open(plan, encodePlan(plan, ctx.trace !== undefined), ctx.syscalls, stdio);
  const joinCgroup = (pid: number) => {
    ctx.trace?.host(`process is pid ${pid} on the host; put it in the container's cgroup`);
    // Before any of its code runs, like the init: limits apply to exec'd processes too.
    const cgroup = ctx.cgroups().open(name);
    if (!cgroup) throw new DiycError(`container ${name} has no cgroup: its limits could not apply to the new process`);
    cgroup.addProcess(pid);
  };
  if (!request.detach) return channel.runToExit(joinCgroup);
  await channel.runUntilStarted(joinCgroup);
  channel.close();
  await channel.helper.exited;
  return 0;
}
