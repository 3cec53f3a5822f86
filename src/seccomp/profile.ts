// The default seccomp profile, in the OCI runtime-spec's own shape
// (linux.seccomp). An allow list, as docker's and podman's are: the calls
// below are allowed, a few more when the container holds the capability that
// guards them, and everything else is refused. A system call the kernel adds
// later is refused too ("function not implemented", so libc falls back to an
// older call) until it is reviewed and listed here.
//
// Refused on purpose, with EPERM, whatever the capabilities: keyrings,
// kexec, old module calls, userfaultfd, io_uring, swap, pivot_root (the
// container's root is made once, by diyc), memfd_secret; and per argument:
// clone into new namespaces (unless CAP_SYS_ADMIN), clone3 (its flags are
// behind a pointer: ENOSYS makes libc use clone, which can be checked),
// personality() other than the usual few, AF_VSOCK sockets (not namespaced:
// they reach the hypervisor), and the terminal ioctls TIOCSTI and TIOCLINUX,
// which push input into a terminal (defence in depth behind the session of
// its own every container process gets).

import { CLONE_NAMESPACE_FLAGS } from "../linux/namespaces";
import type { LinuxSeccomp, SeccompArg, SeccompRule } from "../spec/oci";

const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;


const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const AF_VSOCK = 40;
/** personality(2) values programs use: PER_LINUX, PER_LINUX32, UNAME26 and both, and 0xffffffff (a query). */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * The argument is a C int or unsigned int: the kernel ignores the upper 32
 * bits of the register, so the filter must too, or a caller could set them
 * to slip past an equality check.
 */
const low32Equals = (index: number, value: number): SeccompArg => ({ index, value: 0xffffffff, valueTwo: value, op: "SCMP_CMP_MASKED_EQ" });

/** Allowed for every container. */
export const ALLOWED_SYSCALLS = [
  "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat", "capget",
  "capset", "chdir", "chmod", "chown", "chroot", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
  "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
  "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
  "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate",
  "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync",
  "fgetxattr", "file_getattr", "file_setattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
  "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait", "futex_waitv",
  "futex_wake", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
  "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp",
  "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "getrusage",
  "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
  "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
  "io_getevents", "io_pgetevents", "io_setup", "io_submit", "ioprio_get", "ioprio_set", "kill",
  "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link",
  "linkat", "listen", "listxattr", "listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
  "lsm_get_self_attr", "lsm_list_modules", "lstat", "madvise", "map_shadow_stack", "membarrier",
  "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
  "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend",
  "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
  "munmap", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
  "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv",
  "preadv2", "prlimit64", "process_mrelease", "pselect6", "ptrace", "pwrite64", "pwritev", "pwritev2", "read",
  "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages",
  "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
  "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
  "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
  "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
  "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
  "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto",
  "set_robust_list", "set_thread_area", "set_tid_address", "setdomainname", "setfsgid", "setfsuid", "setgid",
  "setgroups", "sethostname", "setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid",
  "setreuid", "setrlimit", "setsid", "setsockopt", "setuid", "setxattr", "setxattrat", "shmat", "shmctl",
  "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice", "stat",
  "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
  "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
  "timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask", "uname",
  "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4", "waitid", "write",
  "writev",
];

/** Allowed only to a container whose bounding set holds the capability that guards them. */
export const ALLOWED_WITH_CAPABILITY: Record<string, string[]> = {
  CAP_SYS_ADMIN: [
    "bpf", "fanotify_init", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "open_tree", "open_tree_attr", "perf_event_open", "quotactl", "quotactl_fd", "setns", "umount2", "unshare",
    "name_to_handle_at", "listmount", "statmount",
  ],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_MODULE: ["init_module", "finit_module", "delete_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev"],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "clock_settime", "clock_adjtime"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages", "get_mempolicy"],
  CAP_SYSLOG: ["syslog"],
};

/** Refused with EPERM whatever the capabilities (named so that the error says "not permitted", not "not implemented"). */
export const REFUSED_SYSCALLS = [
  "add_key", "keyctl", "request_key", "kexec_load", "kexec_file_load", "create_module", "get_kernel_syms", "query_module",
  "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl", "userfaultfd", "io_uring_setup", "io_uring_enter",
  "io_uring_register", "swapon", "swapoff", "pivot_root", "memfd_secret", "lsm_set_self_attr",
];

/** The default profile for a container with these (bounding) capabilities. */
export function defaultSeccompProfile(capabilities: readonly string[]): LinuxSeccomp {
  const held = new Set(capabilities);
  const withCapability = new Set<string>();
  const withoutCapability = new Set<string>();
  for (const [capability, names] of Object.entries(ALLOWED_WITH_CAPABILITY)) {
    for (const name of names) (held.has(capability) ? withCapability : withoutCapability).add(name);
  }
  for (const name of withCapability) withoutCapability.delete(name);
  const admin = held.has("CAP_SYS_ADMIN");
  const rules: SeccompRule[] = [
    { names: ALLOWED_SYSCALLS, action: "SCMP_ACT_ALLOW" },
    // The first rule whose arguments match decides; a call no rule matches gets the default.
    { names: ["ioctl"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: [low32Equals(1, TIOCSTI)] },
    { names: ["ioctl"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: [low32Equals(1, TIOCLINUX)] },
    { names: ["ioctl"], action: "SCMP_ACT_ALLOW" },
    { names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: EAFNOSUPPORT, args: [low32Equals(0, AF_VSOCK)] },
    { names: ["socket"], action: "SCMP_ACT_ALLOW" },
    ...PERSONALITIES.map((value): SeccompRule => ({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [low32Equals(0, value)] })),
    { names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
  ];
  if (admin) {
    rules.push({ names: ["clone", "clone3"], action: "SCMP_ACT_ALLOW" });
  } else {
    rules.push(
      // clone: threads and processes yes, new namespaces no.
      { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
      { names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    );
  }
  if (withCapability.size > 0) rules.push({ names: [...withCapability], action: "SCMP_ACT_ALLOW" });
  rules.push({ names: [...REFUSED_SYSCALLS, ...withoutCapability], action: "SCMP_ACT_ERRNO", errnoRet: EPERM });
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: ENOSYS,
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: rules,
  };
}
