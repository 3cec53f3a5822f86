// Namespace flags for clone(2), unshare(2) and setns(2) (include/uapi/linux/sched.h),
// and the names the runtime-spec gives them. One table for the plan compiler,
// the exec plan, the seccomp profile and the network code.

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  /** unshare/setns only: clone(2) has no room for it (it overlaps the exit signal). */
  NEWTIME: 0x00000080,
} as const;

/** Every clone(2) flag that makes a new namespace (not NEWTIME: in clone's flags that bit is the exit signal's). */
export const CLONE_NAMESPACE_FLAGS = CLONE.NEWNS | CLONE.NEWCGROUP | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNET;

/**
 * The runtime-spec's namespace types: each one's clone flag and its file under
 * /proc/PID/ns/. The key order is the order -v names new namespaces in.
 */
export const NAMESPACES = {
  mount: { flag: CLONE.NEWNS, file: "mnt" },
  cgroup: { flag: CLONE.NEWCGROUP, file: "cgroup" },
  uts: { flag: CLONE.NEWUTS, file: "uts" },
  ipc: { flag: CLONE.NEWIPC, file: "ipc" },
  user: { flag: CLONE.NEWUSER, file: "user" },
  pid: { flag: CLONE.NEWPID, file: "pid" },
  network: { flag: CLONE.NEWNET, file: "net" },
  time: { flag: CLONE.NEWTIME, file: "time" },
} as const;
