// System call numbers on x86-64 (arch/x86/entry/syscalls/syscall_64.tbl),
// for the syscalls the default profile names. The filter is compiled for
// this architecture only; another one is refused with a clear error.

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 ABI calls carry this bit; the filter refuses them all. */
export const X32_SYSCALL_BIT = 0x40000000;

export const SYSCALLS_X86_64: Record<string, number> = {
  clone: 56, ptrace: 101, syslog: 103, uselib: 134, personality: 135, ustat: 136, sysfs: 139,
  pivot_root: 155, _sysctl: 156, acct: 163, settimeofday: 164, mount: 165, umount2: 166,
  swapon: 167, swapoff: 168, reboot: 169, iopl: 172, ioperm: 173, create_module: 174,
  init_module: 175, delete_module: 176, get_kernel_syms: 177, query_module: 178, quotactl: 179,
  nfsservctl: 180, lookup_dcookie: 212, clock_settime: 227, kexec_load: 246, add_key: 248,
  request_key: 249, keyctl: 250, unshare: 272, perf_event_open: 298, fanotify_init: 300,
  name_to_handle_at: 303, open_by_handle_at: 304, clock_adjtime: 305, setns: 308,
  process_vm_readv: 310, process_vm_writev: 311, kcmp: 312, finit_module: 313,
  kexec_file_load: 320, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426,
  io_uring_register: 427, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431,
  fsmount: 432, fspick: 433, clone3: 435, mount_setattr: 442, quotactl_fd: 443,
};
