// The default seccomp profile, in the OCI runtime-spec's own shape
// (linux.seccomp). Like docker's, it allows everything but the calls that
// reach the host's kernel state or widen the attack surface, most of which the
// dropped capabilities already refuse: this is the second wall, and it also
// covers what no capability guards (new user namespaces, io_uring, keyrings).

import type { LinuxSeccomp } from "../spec/oci";

const EPERM = 1;
const ENOSYS = 38;

/** clone() flags that make new namespaces. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

export const DEFAULT_SECCOMP: LinuxSeccomp = {
  defaultAction: "SCMP_ACT_ALLOW",
  architectures: ["SCMP_ARCH_X86_64"],
  syscalls: [
    {
      // Kernel modules, kexec, reboot, clocks, swap, quotas, accounting, keyrings,
      // mounts and namespaces, BPF and perf, other processes' memory, io_uring.
      names: [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
        "finit_module", "get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
        "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "fsopen",
        "fsconfig", "fsmount", "fspick", "open_tree", "name_to_handle_at", "open_by_handle_at",
        "nfsservctl", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
        "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "setns", "settimeofday",
        "swapon", "swapoff", "sysfs", "_sysctl", "syslog", "umount2", "unshare", "uselib",
        "userfaultfd", "ustat", "fanotify_init", "io_uring_setup", "io_uring_enter", "io_uring_register",
      ],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EPERM,
    },
    // clone3 cannot be filtered on its flags (they are behind a pointer):
    // "not implemented" makes libc fall back to clone, which can be.
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    // clone: threads and processes yes, new namespaces no. First matching rule wins.
    { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
    { names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
  ],
};
