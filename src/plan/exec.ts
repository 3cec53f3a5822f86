// The plan for `diyc exec`: join every namespace of a running container's
// init, fork into them, drop to the container's privileges, exec.

import type { LinuxSeccomp, NamespaceType, Process } from "../spec/oci";
import { NAMESPACES } from "../linux/namespaces";
import { launchOps, PARENT_DEATH_SIGNAL, preserveFdOps, privilegeOps, seccompPlacement, terminalOps } from "./compile";
import { settingsFirst, type Op, type Plan } from "./ops";


/**
 * The mount namespace goes last: joining it changes the helper's root to the
 * container's, after which /proc/PID/ns/... would no longer name the host's view.
 * The pid namespace applies to children only, hence the clone after the joins.
 * A user namespace goes first: joining it gives the capabilities, within it,
 * that the joins of the namespaces it owns need.
 */
const JOIN_ORDER: NamespaceType[] = ["user", "cgroup", "ipc", "uts", "network", "pid", "time", "mount"];

/** bin/diyc-oci exec: the caller may own the terminal and wait for the process itself. */
export interface OciExec {
  consoleSocket?: { path: string; rows: number; cols: number };
  /** --preserve-fds N. */
  preserveFds?: number;
  /** --detach: the helper leaves once the command runs; the caller (a subreaper) waits for it. */
  leave: boolean;
}

export function compileExecPlan(
  initPid: number, namespaces: NamespaceType[], proc: Process, lastCap: number, seccomp?: LinuxSeccomp, oci?: OciExec,
): Plan {
  const ops: Op[] = [];
  for (const type of JOIN_ORDER) {
    if (!namespaces.includes(type)) continue;
    const { file, flag } = NAMESPACES[type];
    ops.push({ code: "JoinNamespace", args: [`/proc/${initPid}/ns/${file}`, flag], describe: `setns into the ${type} namespace of pid ${initPid}` });
  }
  const terminal = terminalOps(proc, oci?.consoleSocket !== undefined);
  const placed = seccompPlacement(proc, seccomp);
  const console = oci?.consoleSocket;
  ops.push(
    { code: "Clone", args: [0], describe: "fork into the joined namespaces" },
    ...terminal.helper,
    ...(console && proc.terminal ? [{ code: "ConsoleSocket", args: [console.path, console.rows, console.cols], describe: `send the pty master to ${console.path}` } as Op] : []),
    ...(oci?.leave ? [{ code: "Leave", args: [], describe: "leave once the command runs: the caller waits for it" } as Op] : []),
    ...preserveFdOps(oci?.preserveFds ?? 0).helper,
    { code: "SetDumpable", args: [0], describe: "make the process non-dumpable until exec" },
    // Joining the mount namespace made its root ours: paths such as -w are
    // resolved inside it, never through /proc magic links to the host.
    { code: "OpenRoot", args: ["/"], describe: "open the container's / as the root for paths" },
    ...terminal.init,
    ...placed.beforePrivileges,
    ...privilegeOps(proc, lastCap),
    // With a monitor of ours the process dies with it; one the helper leaves (OCI exec --detach) must not.
    ...(oci?.leave ? [] : [PARENT_DEATH_SIGNAL]),
    ...launchOps(proc, { seccomp: placed.last, findExecutable: oci !== undefined, preserveFds: oci?.preserveFds }),
  );
  return settingsFirst(ops);
}
