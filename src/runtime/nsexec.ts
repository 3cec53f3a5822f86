// nsexec: run a host command in new namespaces (the seed's tool). It shares
// the helper and the protocol with containers; only the plan differs.

import { writeFileSync } from "node:fs";
import type { Syscalls } from "../linux/syscalls";
import type { Trace } from "../linux/trace";
import { encodePlan } from "../plan/encode";
import { compileNsexecPlan, type NsexecOptions } from "../plan/nsexec";
import { HelperChannel } from "./helper-channel";

export interface NsexecContext {
  syscalls: Syscalls;
  trace?: Trace;
  /** The caller's ids, mapped to root inside a new user namespace (-U). */
  uid: number;
  gid: number;
}

/**
 * A new user namespace starts with no id mapping: its processes are
 * "nobody" until the parent writes the maps. setgroups must be denied before
 * an unprivileged gid_map can be written; we deny it always, for one rule.
 */
function writeIdMaps(pid: number, uid: number, gid: number, trace?: Trace): void {
  trace?.host(`map uid ${uid} and gid ${gid} to root in the user namespace of pid ${pid}`);
  writeFileSync(`/proc/${pid}/uid_map`, `0 ${uid} 1\n`);
  writeFileSync(`/proc/${pid}/setgroups`, "deny\n");
  writeFileSync(`/proc/${pid}/gid_map`, `0 ${gid} 1\n`);
}

export async function runNsexec(ctx: NsexecContext, options: NsexecOptions): Promise<number> {
  const plan = compileNsexecPlan(options);
  const channel = HelperChannel.open(plan, encodePlan(plan, ctx.trace !== undefined), ctx.syscalls);
  return channel.runToExit((pid) => {
    ctx.trace?.host(`cloned pid ${pid} into new namespaces`);
    if (options.user) writeIdMaps(pid, ctx.uid, ctx.gid, ctx.trace);
  });
}
