// The plan's vocabulary, in one table: each operation's number, whether the
// helper reads it as a setting (before it clones) or the init runs it as a
// step (in order, inside the new namespaces), and its arguments by name and
// kind. native/plan-ops.h is generated from this table (src/plan/c-header.ts,
// `npm run gen:ops`) and checked in; test/unit/plan-encoding.test.ts fails
// when the two differ. The C side validates every op of a plan against it
// before the first one runs (native/plan.c).
//
// Adding an op: a row here, `npm run gen:ops`, and one C function in
// native/ops.c (run_one) or, for a setting, where the helper reads it.

/** How an argument travels: a string, a u64, raw bytes, or a list of strings (NUL-separated). */
export type ArgKind = "str" | "u64" | "bytes" | "list";

export interface OpDefinition {
  code: number;
  /** Read by the helper, not run by the init; `repeat`: it may appear more than once. */
  setting?: "once" | "repeat";
  /** The arguments in order; those after `required` may be left out. */
  args: readonly (readonly [name: string, kind: ArgKind])[];
  required?: number;
  doc: string;
}

export const OPS = {
  // Settings: read by the helper before it clones.
  Clone: { code: 1, setting: "once", args: [["flags", "u64"]], doc: "clone flags for the init" },
  ExitRecord: { code: 2, setting: "once", args: [["path", "str"], ["reserve", "str"]], required: 1, doc: "where the monitor writes the exit status; reserve: a file made for it in advance" },
  CleanupHook: { code: 3, setting: "once", args: [["argv", "list"]], doc: "run by the monitor if diyc is gone at exit" },
  JoinNamespace: { code: 4, setting: "repeat", args: [["path", "str"], ["nstype", "u64"]], doc: "setns before forking (exec)" },
  Detach: { code: 5, setting: "once", args: [], doc: "setsid: leave diyc's session, outlive it (run -d)" },
  Log: { code: 6, setting: "once", args: [["path", "str"], ["max_bytes", "u64"], ["tee", "u64"]], required: 2, doc: "the init's stdout/stderr go through the monitor to this log (tee: and on to the monitor's own)" },
  RelayTerminal: { code: 7, setting: "once", args: [["raw", "u64"]], doc: "the monitor relays its stdin/stdout to the pty; raw: the user's terminal in raw mode" },
  StartFifo: { code: 50, setting: "once", args: [["path", "str"]], doc: "OCI: the start barrier is this FIFO; the helper leaves after READY" },
  ConsoleSocket: { code: 51, setting: "once", args: [["path", "str"], ["rows", "u64"], ["cols", "u64"]], doc: "OCI: the pty master goes to this unix socket" },
  Leave: { code: 52, setting: "once", args: [], doc: "leave once the command has started (exec -d, OCI exec --detach): no monitor" },
  PreserveFds: { code: 58, setting: "once", args: [["count", "u64"]], doc: "OCI: keep fds 5..5+count-1 (--preserve-fds)" },
  TimeNamespace: { code: 62, setting: "once", args: [["monotonic_s", "u64"], ["monotonic_ns", "u64"], ["boottime_s", "u64"], ["boottime_ns", "u64"]], doc: "OCI: unshare a time namespace for the init" },
  HoldMountNamespace: { code: 65, setting: "once", args: [], doc: "the monitor holds the init's mount namespace until it has reported the exit, so that the kernel unmounts the container's mounts after the report, not before it (--rm)" },
  IdmapMount: { code: 63, setting: "repeat", args: [["source", "str"], ["recursive", "u64"], ["attributes", "u64"]], doc: "OCI: a detached bind, idmapped to the init's user namespace" },

  // Steps: run by the init, in order, inside the new namespaces.
  Mount: { code: 10, args: [["source", "str"], ["target", "str"], ["fstype", "str"], ["flags", "u64"], ["data", "str"]], doc: "mount(2)" },
  Mkdir: { code: 11, args: [["path", "str"], ["mode", "u64"]], doc: "mkdir -p" },
  Mknod: { code: 12, args: [["path", "str"], ["mode", "u64"], ["dev", "u64"]], doc: "mknod(2), the mode exactly" },
  Symlink: { code: 13, args: [["target", "str"], ["linkpath", "str"]], doc: "symlink(2)" },
  OpenRoot: { code: 14, args: [["path", "str"]], doc: "the directory that becomes / (and in which in-root paths resolve)" },
  PivotRoot: { code: 15, args: [], doc: "pivot_root to the opened root, detach the old one" },
  Sethostname: { code: 16, args: [["name", "str"]], doc: "sethostname(2)" },
  Setdomainname: { code: 17, args: [["name", "str"]], doc: "setdomainname(2)" },
  MaskPath: { code: 19, args: [["path", "str"]], doc: "hide: /dev/null over a file, an empty read-only tmpfs over a directory" },
  ReadonlyPath: { code: 20, args: [["path", "str"], ["keep_flags", "u64"]], doc: "bind onto itself, remount read-only" },
  Setrlimit: { code: 21, args: [["resource", "u64"], ["soft", "u64"], ["hard", "u64"]], doc: "setrlimit(2)" },
  Setgroups: { code: 22, args: [["gids", "bytes"]], doc: "setgroups(2), u32 gids packed" },
  Setgid: { code: 23, args: [["gid", "u64"]], doc: "setresgid(2)" },
  Setuid: { code: 24, args: [["uid", "u64"]], doc: "setresuid(2)" },
  DropBounding: { code: 25, args: [["caps", "bytes"]], doc: "drop each capability (u8 each) from the bounding set" },
  SetCaps: { code: 26, args: [["effective", "u64"], ["permitted", "u64"], ["inheritable", "u64"]], doc: "capset(2)" },
  ClearAmbient: { code: 27, args: [], doc: "clear the ambient capabilities" },
  NoNewPrivs: { code: 28, args: [], doc: "PR_SET_NO_NEW_PRIVS" },
  Seccomp: { code: 29, args: [["filter", "bytes"], ["flags", "u64"]], required: 1, doc: "seccomp(2): a sock_filter array, SECCOMP_FILTER_FLAG_*" },
  Chdir: { code: 30, args: [["path", "str"]], doc: "chdir(2)" },
  CloexecFds: { code: 31, args: [["first_fd", "u64"]], doc: "mark every fd from first_fd close-on-exec" },
  ResetSignals: { code: 32, args: [], doc: "default dispositions, an empty mask" },
  AwaitStart: { code: 33, args: [], doc: "report READY, block until START: the create/start split" },
  Exec: { code: 34, args: [["file", "str"], ["argv", "list"], ["envp", "list"], ["search", "str"]], doc: "execve(2), searching the container's PATH (search: \"a:b\")" },
  KeepCaps: { code: 35, args: [["on", "u64"]], doc: "PR_SET_KEEPCAPS across setuid" },
  SetDumpable: { code: 36, args: [["on", "u64"]], doc: "PR_SET_DUMPABLE" },
  Unshare: { code: 37, args: [["flags", "u64"]], doc: "unshare(2), e.g. the cgroup namespace once in its cgroup" },
  Terminal: { code: 38, args: [], doc: "a pty from the container's /dev/ptmx as stdio; the master goes to the monitor" },
  ForkReaper: { code: 39, args: [], doc: "--init: fork; the parent stays as pid 1, reaping and forwarding signals" },
  NewSession: { code: 40, args: [], doc: "setsid: no controlling terminal (the user's terminal must not be reachable)" },
  MountSetattr: { code: 41, args: [["path", "str"], ["attr_set", "u64"], ["attr_clr", "u64"], ["recursive", "u64"]], doc: "mount_setattr(2), e.g. read-only for a whole tree" },
  WriteFile: { code: 42, args: [["path", "str"], ["data", "str"]], doc: "write an existing file, e.g. a namespaced sysctl under /proc/sys" },
  ParentDeathSignal: { code: 43, args: [["signal", "u64"]], doc: "PR_SET_PDEATHSIG; the helper also applies it right after clone" },
  FindExec: { code: 53, args: [["file", "str"], ["search", "str"]], doc: "OCI: the executable exists, checked before the barrier" },
  Umask: { code: 54, args: [["mask", "u64"]], doc: "umask(2)" },
  RaiseAmbient: { code: 55, args: [["caps", "bytes"]], doc: "raise each capability (u8 each) in the ambient set" },
  Personality: { code: 57, args: [["persona", "u64"]], doc: "personality(2)" },
  MoveFds: { code: 59, args: [["from", "u64"], ["count", "u64"]], doc: "dup2 from..from+count-1 onto 3..3+count-1, just before exec" },
  HookState: { code: 60, args: [["path", "str"]], doc: "OCI: open the state file hooks run by the init read on stdin" },
  RunHook: { code: 61, args: [["path", "str"], ["argv", "list"], ["envp", "list"], ["timeout_s", "u64"]], doc: "OCI: fork, exec, wait: a hook (timeout 0: none)" },
  AttachMount: { code: 64, args: [["index", "u64"], ["target", "str"]], doc: "move_mount the index-th detached mount the helper sent onto target" },
} as const satisfies Record<string, OpDefinition>;

export type OpCodeName = keyof typeof OPS;

/** The numbers alone, by name. */
export const OpCode = Object.fromEntries(Object.entries(OPS).map(([name, def]) => [name, def.code])) as { [K in OpCodeName]: (typeof OPS)[K]["code"] };

/**
 * Numbers diyc and the helper must agree on. c-header.ts writes them into
 * native/plan-ops.h, so each is written once, here.
 */
export const NATIVE_CONSTANTS = {
  /** The most arguments one op may have (native/plan.h struct plan_op). */
  PLAN_MAX_ARGS: 8,
  /** The largest encoded plan the helper reads. */
  PLAN_MAX_BYTES: 16 << 20,
  /** OCI --preserve-fds: the caller's fds 3..3+N-1 reach the helper as these, from 5 (OP_PRESERVE_FDS, OP_MOVE_FDS). */
  HELPER_PRESERVED_FD: 5,
  /**
   * Bytes diyc reserves for the exit record at create (exit.json.reserve);
   * the monitor writes at most this, over it, so a full disk cannot lose it.
   */
  EXIT_RECORD_BYTES: 128,
} as const;

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

export const isSetting = (op: Op): boolean => "setting" in OPS[op.code];

/**
 * The settings first, then the steps in their order: the helper reads the
 * settings as a header, and the init runs the steps. Op indices (which name a
 * failed step) are those of the returned plan.
 */
export function settingsFirst(ops: Op[]): Plan {
  return { ops: [...ops.filter(isSetting), ...ops.filter((op) => !isSetting(op))] };
}

/** An op's argument by the name the table gives it (`argOf(op, "search")`), not by position. */
export function argOf(op: Op, name: string): OpArg | undefined {
  const index = OPS[op.code].args.findIndex(([arg]) => arg === name);
  if (index < 0) throw new Error(`op ${op.code} has no argument ${name}`);
  return op.args[index];
}

