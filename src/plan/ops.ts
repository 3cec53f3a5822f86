// The plan's vocabulary. Each operation is one kernel step that the C helper
// (native/ops.c) carries out. The numbers must match native/plan.h;
// test/unit/plan-encoding.test.ts reads that header and compares.

export const OpCode = {
  // Read by the helper before it clones.
  Clone: 1,
  ExitRecord: 2,
  CleanupHook: 3,
  JoinNamespace: 4,
  Detach: 5,
  Log: 6,
  RelayTerminal: 7,
  // Run by the container's init, in order.
  Mount: 10,
  Mkdir: 11,
  Mknod: 12,
  Symlink: 13,
  OpenRoot: 14,
  PivotRoot: 15,
  Sethostname: 16,
  Setdomainname: 17,
  MaskPath: 19,
  ReadonlyPath: 20,
  Setrlimit: 21,
  Setgroups: 22,
  Setgid: 23,
  Setuid: 24,
  DropBounding: 25,
  SetCaps: 26,
  ClearAmbient: 27,
  NoNewPrivs: 28,
  Seccomp: 29,
  Chdir: 30,
  CloexecFds: 31,
  ResetSignals: 32,
  AwaitStart: 33,
  Exec: 34,
  KeepCaps: 35,
  SetDumpable: 36,
  Unshare: 37,
  Terminal: 38,
  ForkReaper: 39,
  NewSession: 40,
  MountSetattr: 41,
  WriteFile: 42,
  ParentDeathSignal: 43,
  // The OCI front door (bin/diyc-oci): see native/protocol.h.
  StartFifo: 50,
  ConsoleSocket: 51,
  Leave: 52,
  FindExec: 53,
  Umask: 54,
  RaiseAmbient: 55,
  Personality: 57,
  PreserveFds: 58,
  MoveFds: 59,
  HookState: 60,
  RunHook: 61,
  TimeNamespace: 62,
  IdmapMount: 63,
  AttachMount: 64,
} as const;

export type OpCodeName = keyof typeof OpCode;

export const OpFlag = {
  /** Resolve the path inside the container's root (openat2 RESOLVE_IN_ROOT); an error when no root is open. */
  InRoot: 1,
  /** A missing path is not an error. */
  Optional: 2,
  /** Create the mount target as a directory first. */
  MkdirTarget: 4,
  /** Create the mount target as an empty file first. */
  MkfileTarget: 8,
} as const;

/** An argument: a string, a number (sent as u64), raw bytes, or a list of strings. */
export type OpArg = string | number | bigint | Uint8Array | { list: string[] };

export interface Op {
  code: OpCodeName;
  flags?: number;
  args: OpArg[];
  /** What -v prints when the step runs, e.g. "mount proc on /proc". */
  describe: string;
}

export interface Plan {
  ops: Op[];
}
