// The plan compiler: an OCI spec in, the ordered list of kernel steps out.
//
// Every decision about how a container is made lives here, in one readable
// function: which namespaces, which mounts in which order, which devices,
// which capabilities. The C helper runs the result without deciding anything.
// The output is plain data: `diyc run -v` prints each step as it runs, and
// test/unit/plan-compile.test.ts snapshots it without root.

import { capabilityMask, capabilityNames } from "../linux/capabilities";
import { makeDevice } from "../linux/devices";
import { CLONE, NAMESPACES } from "../linux/namespaces";
import { RLIMIT } from "../linux/rlimits";
import { DiycError } from "../linux/errors";
import type { Hook, LinuxSeccomp, Mount, NamespaceType, Process, Spec } from "../spec/oci";
import { SECCOMP_FILTER_FLAGS } from "../seccomp/bpf";
import { seccompProgram } from "../seccomp/precompiled";
import { DEV_SYMLINKS } from "../spec/defaults";
import { describeFlags, describeMountAttributes, MOUNT_ATTR, MS, parseMountOptions, PROPAGATION } from "./mount-options";
import { NATIVE_CONSTANTS, type Op, OpFlag, type Plan, settingsFirst } from "./ops";


const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The container's root filesystem: an overlay of the image and its own layer. */
export interface RootfsLayout {
  /** Read-only image layers, top first. */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /** Where the overlay is mounted; it becomes "/". */
  merged: string;
}

/**
 * A root directory made by someone else (an OCI bundle's root.path: podman
 * and the containerd shim mount the image themselves). It is bind-mounted
 * onto itself, because pivot_root needs a mount point.
 */
export interface BundleRootfs {
  path: string;
}

/**
 * The OCI front door (bin/diyc-oci): the caller is the monitor. The start
 * barrier is a FIFO that a later `diyc-oci start` opens, and the pty master
 * goes to the caller's console socket. See native/protocol.h.
 */
const { HELPER_PRESERVED_FD } = NATIVE_CONSTANTS;

/** The helper setting that keeps N preserved fds, and the init's step that makes them 3.. just before exec. */
export function preserveFdOps(count: number): { helper: Op[]; beforeExec: Op[] } {
  if (count <= 0) return { helper: [], beforeExec: [] };
  return {
    helper: [{ code: "PreserveFds", args: [count], describe: `keep the caller's ${count} extra fds` }],
    beforeExec: [{ code: "MoveFds", args: [HELPER_PRESERVED_FD, count], describe: `pass the caller's fds as 3..${2 + count}` }],
  };
}

export interface OciLaunch {
  /** Absent for `run` in the foreground: the barrier stays the helper's socket and the helper the monitor. */
  startFifo?: string;
  consoleSocket?: { path: string; rows: number; cols: number };
  /** --preserve-fds N. */
  preserveFds?: number;
  /** The state file that createContainer and startContainer hooks read on stdin (written by the runtime). */
  hookState?: string;
}

/** OCI hooks the init runs itself, inside the container's namespaces (native/ops.c op_run_hook). */
export function hookOps(kind: "createContainer" | "startContainer", hooks: Hook[] | undefined): Op[] {
  return (hooks ?? []).map((hook) => ({
    code: "RunHook",
    args: [hook.path, { list: hook.args && hook.args.length > 0 ? hook.args : [hook.path] }, { list: hook.env ?? [] }, hook.timeout ?? 0],
    describe: `${kind} hook ${hook.path}`,
  }));
}

/** How the host's cgroups appear under the container's /sys/fs/cgroup. */
export type CgroupView =
  | { version: "v1"; hierarchies: { directory: string; controllers: string; ownCgroup?: string }[] }
  | { version: "v2"; ownCgroup?: string };

export interface ContainerPlanInputs {
  spec: Spec;
  rootfs: RootfsLayout | BundleRootfs;
  /** Where the monitor writes the exit status, and the file made for it in advance (none for the OCI door: the caller waits). */
  exitRecord?: { path: string; reserve: string };
  /** Run by the monitor when diyc is gone at exit, to clean up. */
  cleanupHook?: string[];
  /**
   * --rm: the monitor holds the mount namespace until it has reported the
   * exit (op HoldMountNamespace). Only for a container whose directory goes
   * with it: a container that is kept may be started again at once, and its
   * next overlay must not share the upper and work directories with the old
   * one while the kernel still unmounts it.
   */
  holdMountNamespace?: boolean;
  /** Whether a bind mount's source is a directory (else a file); asked of the host. */
  isDirectory: (hostPath: string) => boolean;
  /** What a "cgroup" mount in the spec expands to on this host. */
  cgroupView: CgroupView;
  /** run -d: the monitor leaves diyc's session; the command's output goes only to the log. */
  detached?: boolean;
  /**
   * The container's log: the monitor keeps the command's output there,
   * detached or not (a foreground run's output is copied on to the user).
   */
  log?: { path: string; maxBytes: number };
  /** --init: a reaper stays as pid 1 and the command runs as its child. */
  init?: boolean;
  /**
   * -v: the kernel logs each call the seccomp filter refuses
   * (SECCOMP_FILTER_FLAG_LOG), so diyc can say which (runtime/seccomp-watch.ts).
   */
  logSeccompDenials?: boolean;
  /** bin/diyc-oci create: the helper leaves once the init is parked. */
  oci?: OciLaunch;
  /**
   * Rootless diyc (linux/rootless.ts): the layers and the container's
   * directory are the user's already (no idmapped copies: those need the
   * host's root), and the overlay keeps its marks in user.overlay.* xattrs
   * (userxattr: trusted.* is the host root's alone).
   */
  rootless?: boolean;
}

/**
 * -t: the command gets a pty from the container's own /dev/ptmx; the monitor
 * gets the master and relays it to the user's terminal in raw mode, or, when
 * detached, to the log.
 */
export function terminalOps(proc: Pick<Process, "terminal">, detached: boolean): { helper: Op[]; init: Op[] } {
  // Without a pty of its own, the process still leaves the caller's session:
  // sharing it would make the user's terminal its controlling terminal, and
  // /dev/tty plus TIOCSTI could type commands into the user's shell.
  if (!proc.terminal) return { helper: [], init: [NEW_SESSION] };
  return {
    helper: detached ? [] : [{ code: "RelayTerminal", args: [1], describe: "" }],
    init: [{ code: "Terminal", args: [], describe: "open a pty in the container's devpts as the controlling terminal and stdio" }],
  };
}

/**
 * A container must not outlive its monitor (nobody would record its exit or
 * clean up): SIGKILL when the helper dies. Set again after setuid, which
 * clears it; the helper also applies it right after clone.
 */
export const PARENT_DEATH_SIGNAL: Op = { code: "ParentDeathSignal", args: [9], describe: "die with the monitor (PR_SET_PDEATHSIG SIGKILL)" };

const NEW_SESSION: Op = { code: "NewSession", args: [], describe: "start a session of its own, with no controlling terminal (setsid)" };

/** Every namespace in the spec that is created new (no path to join). */
export function cloneFlags(spec: Spec): number {
  let flags = 0;
  for (const ns of spec.linux.namespaces) {
    // The cgroup namespace is unshared by the init after it has been put in
    // its cgroup, so that cgroup is what the container sees as its root.
    if (!ns.path && ns.type !== "cgroup" && ns.type !== "time") flags |= NAMESPACES[ns.type].flag;
  }
  return flags;
}

/**
 * Namespaces the spec names by path (a pod's network namespace): the helper
 * joins them before it clones, so the init is born in them.
 */
export function joinNamespaceOps(spec: Spec): Op[] {
  return spec.linux.namespaces
    .filter((ns) => ns.path)
    .map((ns) => ({ code: "JoinNamespace", args: [ns.path!, NAMESPACES[ns.type].flag], describe: `setns into the ${ns.type} namespace ${ns.path}` }));
}

export function describeClone(flags: number): string {
  const names = (Object.keys(NAMESPACES) as NamespaceType[]).filter((t) => flags & NAMESPACES[t].flag);
  return `clone new namespaces: ${names.join(", ")}`;
}

function envValue(env: string[], key: string): string | undefined {
  const entry = env.find((e) => e.startsWith(`${key}=`));
  return entry?.slice(key.length + 1);
}

/**
 * The spec's single "cgroup" mount becomes what the host has: on v1, a small
 * tmpfs with one read-only mount per hierarchy, then the tmpfs made read-only
 * too; on v2, the unified tree itself. It runs after the init unshared its
 * cgroup namespace, so each shows the container's own cgroup as "/".
 */
function cgroupMountOps(mount: Mount, view: CgroupView, cgroupNamespace: boolean): Op[] {
  const { flags } = parseMountOptions(mount.options);
  const dest = mount.destination;
  const readOnly = flags | MS.RDONLY;
  // Without a cgroup namespace of its own (podman on cgroup v1), a new cgroup
  // mount would show the host's whole tree: bind the container's own cgroup
  // directories instead (their host paths, as ownCgroup), read-only, as runc does.
  if (!cgroupNamespace) return cgroupBindOps(dest, view, readOnly);
  if (view.version === "v2") {
    return [{ code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: ["cgroup2", dest, "cgroup2", readOnly, ""], describe: `mount cgroup2 on ${dest} (read-only)` }];
  }
  const tmpfsFlags = flags & ~MS.RDONLY;
  const ops: Op[] = [
    { code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: ["tmpfs", dest, "tmpfs", tmpfsFlags, "mode=755"], describe: `mount tmpfs on ${dest} (to hold the cgroup hierarchies)` },
  ];
  for (const h of view.hierarchies) {
    const target = `${dest}/${h.directory}`;
    ops.push({ code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: ["cgroup", target, "cgroup", readOnly, h.controllers], describe: `mount cgroup (${h.controllers}) on ${target} (read-only)` });
  }
  ops.push({ code: "Mount", flags: OpFlag.InRoot, args: ["", dest, "", MS.REMOUNT | readOnly, ""], describe: `remount ${dest} read-only` });
  return ops;
}

function cgroupBindOps(dest: string, view: CgroupView, readOnly: number): Op[] {
  const bind = (source: string, target: string): Op[] => [
    { code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: [source, target, "", MS.BIND, ""], describe: `mount bind ${source} on ${target}` },
    { code: "Mount", flags: OpFlag.InRoot, args: ["", target, "", MS.BIND | MS.REMOUNT | readOnly, ""], describe: `remount ${target} read-only` },
  ];
  if (view.version === "v2") return view.ownCgroup ? bind(view.ownCgroup, dest) : [];
  const ops: Op[] = [
    { code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: ["tmpfs", dest, "tmpfs", readOnly & ~MS.RDONLY, "mode=755"], describe: `mount tmpfs on ${dest} (to hold the cgroup hierarchies)` },
  ];
  for (const h of view.hierarchies) if (h.ownCgroup) ops.push(...bind(h.ownCgroup, `${dest}/${h.directory}`));
  ops.push({ code: "Mount", flags: OpFlag.InRoot, args: ["", dest, "", MS.REMOUNT | readOnly, ""], describe: `remount ${dest} read-only` });
  return ops;
}

/** Where the init stages its idmapped mounts in a user namespace: a tmpfs of its own over /tmp. */
const USERNS_STAGE = "/tmp/.diyc-root";

/**
 * The root in a user namespace (--userns=auto). The store is root's (its
 * directories 0700) and the layers' files are owned by the host's root, so
 * the init, root only in its own namespace, could neither reach nor own
 * them. The helper, root on the host, makes an idmapped copy of each layer
 * and of the container's directory (the host's root becomes the container's
 * root); the init attaches them in a tmpfs of its own and mounts the overlay
 * from there. Files the container writes land on disk owned by the host's
 * root, as without a user namespace, so either way reads the same layer.
 */
function userNamespaceRootOps(rootfs: RootfsLayout, nextIdmap: () => number): { ops: Op[]; root: string; reach: (path: string) => string } {
  const containerDir = rootfs.upperdir.slice(0, rootfs.upperdir.lastIndexOf("/"));
  const stagedDir = `${USERNS_STAGE}/container`;
  const ops: Op[] = [
    { code: "Mount", args: ["tmpfs", "/tmp", "tmpfs", MS.NOSUID | MS.NODEV, "mode=700"], describe: "mount tmpfs on /tmp (the staging place of the idmapped layers)" },
  ];
  const attach = (source: string, target: string, readOnly: boolean) => {
    const index = nextIdmap();
    ops.push(
      { code: "IdmapMount", args: [source, 0, readOnly ? MOUNT_ATTR.RDONLY : 0], describe: `idmap ${source} to the container's user namespace` },
      { code: "AttachMount", flags: OpFlag.MkdirTarget, args: [index, target], describe: `mount the idmapped ${source} on ${target}` },
    );
  };
  const lowers = rootfs.lowerdirs.map((dir, i) => {
    attach(dir, `${USERNS_STAGE}/layer${i}`, true);
    return `${USERNS_STAGE}/layer${i}`;
  });
  attach(containerDir, stagedDir, false);
  const reach = (path: string) => (path === containerDir || path.startsWith(`${containerDir}/`) ? stagedDir + path.slice(containerDir.length) : path);
  const root = reach(rootfs.merged);
  const overlayData = `lowerdir=${lowers.join(":")},upperdir=${reach(rootfs.upperdir)},workdir=${reach(rootfs.workdir)}`;
  ops.push({ code: "Mount", args: ["overlay", root, "overlay", 0, overlayData], describe: `mount overlay on ${root} (${overlayData})` });
  return { ops, root, reach };
}

/**
 * An idmapped bind: the helper prepares it (a detached copy of the source,
 * idmapped to the init's user namespace: that needs the host's privileges)
 * and sends it to the init, which attaches it at its place in the order.
 */
function idmapMountOps(mount: Mount, index: number, isDirectory: (p: string) => boolean): Op[] {
  const { flags, recursive: tree } = parseMountOptions(mount.options);
  // The r* options (rro on a read-only volume) apply to the whole idmapped tree alike.
  const attrs = (flags & MS.RDONLY ? MOUNT_ATTR.RDONLY : 0) | (flags & MS.NOSUID ? MOUNT_ATTR.NOSUID : 0)
    | (flags & MS.NODEV ? MOUNT_ATTR.NODEV : 0) | (flags & MS.NOEXEC ? MOUNT_ATTR.NOEXEC : 0) | tree.set;
  const source = mount.source ?? "";
  const recursive = mount.idmap!.recursive ? 1 : 0;
  return [
    { code: "IdmapMount", args: [source, recursive, attrs], describe: `idmap ${source} to the container's user namespace` },
    {
      code: "AttachMount",
      flags: OpFlag.InRoot | (isDirectory(source) ? OpFlag.MkdirTarget : OpFlag.MkfileTarget),
      args: [index, mount.destination],
      describe: `mount the idmapped ${source} on ${mount.destination}`,
    },
  ];
}

/** Mount one spec entry inside the root: the mount, then what needs a second call. */
function mountOps(mount: Mount, isDirectory: (p: string) => boolean): Op[] {
  const { flags, propagation, data, recursive } = parseMountOptions(mount.options);
  const type = mount.type ?? (flags & MS.BIND ? "bind" : "");
  const isBind = (flags & MS.BIND) !== 0 || type === "bind";
  const source = mount.source ?? "";
  const targetFlag = isBind && !isDirectory(source) ? OpFlag.MkfileTarget : OpFlag.MkdirTarget;
  const ops: Op[] = [];
  // A bind mount ignores MS_RDONLY and friends on the first call: they take a remount.
  const firstFlags = isBind ? MS.BIND | (flags & MS.REC) : flags;
  ops.push({
    code: "Mount",
    flags: OpFlag.InRoot | targetFlag,
    args: [source, mount.destination, isBind ? "" : type, firstFlags, isBind ? "" : data],
    describe: isBind
      ? `mount bind ${source} on ${mount.destination}`
      : `mount ${type} on ${mount.destination} (${[describeFlags(firstFlags), data].filter(Boolean).join(",") || "defaults"})`,
  });
  const remountFlags = flags & ~(MS.BIND | MS.REC);
  if (isBind && remountFlags) {
    ops.push({
      code: "Mount",
      flags: OpFlag.InRoot,
      args: ["", mount.destination, "", MS.BIND | MS.REMOUNT | remountFlags, ""],
      describe: `remount ${mount.destination} ${describeFlags(remountFlags)}`,
    });
  }
  if (propagation) {
    ops.push({
      code: "Mount",
      flags: OpFlag.InRoot,
      args: ["", mount.destination, "", propagation, ""],
      describe: `set propagation of ${mount.destination} to ${describeFlags(propagation)}`,
    });
  }
  if (recursive.set || recursive.clear) ops.push(mountSetattrOp(mount.destination, recursive, true));
  return ops;
}

/** mount_setattr(2) on a path inside the root; `recursive`: every mount below it too. */
function mountSetattrOp(path: string, attributes: { set: number; clear: number }, recursive: boolean): Op {
  const what = [
    attributes.set ? `set ${describeMountAttributes(attributes.set) || "relatime"}` : "",
    attributes.clear & ~MOUNT_ATTR.ATIME_MASK ? `clear ${describeMountAttributes(attributes.clear & ~MOUNT_ATTR.ATIME_MASK)}` : "",
  ].filter(Boolean).join(", ");
  return {
    code: "MountSetattr",
    flags: OpFlag.InRoot,
    args: [path, attributes.set, attributes.clear, recursive ? 1 : 0],
    describe: `mount_setattr ${path}${recursive ? " and every mount below it" : ""}: ${what}`,
  };
}

/**
 * Kernel parameters the container may set for itself: only those that belong
 * to one of its own namespaces (as runc checks), never the host's.
 */
export function validateSysctl(key: string, spec: Pick<Spec, "linux">): void {
  const own = (type: NamespaceType) => spec.linux.namespaces.some((ns) => ns.type === type);
  const ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
  const allowed =
    (own("ipc") && (ipc.includes(key) || key.startsWith("fs.mqueue."))) ||
    (own("network") && key.startsWith("net.")) ||
    (own("uts") && (key === "kernel.hostname" || key === "kernel.domainname"));
  if (!allowed || !/^[a-z0-9_.-]+$/.test(key) || key.includes("..")) {
    throw new DiycError(`sysctl ${JSON.stringify(key)} is not allowed: it is not in a namespace of the container's own`);
  }
}

/** linux.sysctl: each written under /proc/sys inside the container, before /proc/sys turns read-only. */
function sysctlOps(spec: Spec): Op[] {
  return Object.entries(spec.linux.sysctl ?? {}).map(([key, value]): Op => {
    validateSysctl(key, spec);
    const path = `/proc/sys/${key.replaceAll(".", "/")}`;
    return { code: "WriteFile", flags: OpFlag.InRoot, args: [path, value], describe: `sysctl ${key}=${value}` };
  });
}

/** setgroups(2) takes an array of 32-bit gids; the plan carries them packed. */
function packGids(gids: number[]): Uint8Array {
  return new Uint8Array(Uint32Array.from(gids).buffer);
}

/** "chown,kill" for -v: the names in a mask, short and lower-case; "none" for an empty one. */
function capList(mask: bigint): string {
  return capabilityNames(mask).map((c) => c.slice("CAP_".length).toLowerCase()).join(",") || "none";
}

/** The steps that drop privileges: bounding set, ids, capabilities, no_new_privs. */
export function privilegeOps(proc: Process, lastCap: number): Op[] {
  const { user, capabilities: caps } = proc;
  const bounding = capabilityMask(caps.bounding ?? []);
  const dropped: number[] = [];
  for (let cap = 0; cap <= lastCap; cap++) if (!((bounding >> BigInt(cap)) & 1n)) dropped.push(cap);
  const effective = capabilityMask(caps.effective ?? []);
  const permitted = capabilityMask(caps.permitted ?? []);
  const inheritable = capabilityMask(caps.inheritable ?? []);
  const ops: Op[] = [
    { code: "DropBounding", args: [Uint8Array.from(dropped)], describe: `drop ${dropped.length} capabilities from the bounding set` },
  ];
  // setuid away from 0 clears the permitted set unless KEEPCAPS is on; the
  // plan's masks are applied right after, so keep them across the switch.
  if (user.uid !== 0) ops.push({ code: "KeepCaps", args: [1], describe: "keep capabilities across setuid" });
  ops.push(
    { code: "Setgroups", args: [packGids(user.additionalGids ?? [])], describe: `setgroups [${(user.additionalGids ?? []).join(",")}]` },
    { code: "Setgid", args: [user.gid], describe: `setgid ${user.gid}` },
    { code: "Setuid", args: [user.uid], describe: `setuid ${user.uid}` },
    {
      code: "SetCaps",
      args: [effective, permitted, inheritable],
      describe: `capabilities: effective=${capList(effective)} inheritable=${capList(inheritable)}`,
    },
    { code: "ClearAmbient", args: [], describe: "clear ambient capabilities" },
  );
  // The kernel raises an ambient capability only if it is also permitted and
  // inheritable; the others are left out, as runc and crun leave them (runc's
  // own `spec` lists ambient capabilities without inheritable ones).
  const ambient = capabilityMask(caps.ambient ?? []) & permitted & inheritable;
  const raised: number[] = [];
  for (let cap = 0; cap <= lastCap; cap++) if ((ambient >> BigInt(cap)) & 1n) raised.push(cap);
  if (raised.length > 0) ops.push({ code: "RaiseAmbient", args: [Uint8Array.from(raised)], describe: `raise ambient capabilities ${capList(ambient)}` });
  if (proc.noNewPrivileges) ops.push({ code: "NoNewPrivs", args: [], describe: "set no_new_privs" });
  return ops;
}

function rlimitOps(proc: Process): Op[] {
  return (proc.rlimits ?? []).map((limit) => {
    const resource = RLIMIT[limit.type];
    if (resource === undefined) throw new DiycError(`unknown rlimit ${limit.type} in process.rlimits`);
    return { code: "Setrlimit", args: [resource, limit.soft, limit.hard], describe: `setrlimit ${limit.type} ${limit.soft}/${limit.hard}` };
  });
}

/** -v (logDenials): the kernel logs each call the filter refuses (SECCOMP_FILTER_FLAG_LOG), so diyc can say which. */
function seccompOp(profile: LinuxSeccomp, logDenials = false): Op {
  const compiled = seccompProgram(profile, process.arch);
  const LOG = SECCOMP_FILTER_FLAGS.SECCOMP_FILTER_FLAG_LOG!;
  const flags = compiled.flags | (logDenials ? LOG : 0);
  const fallback = profile.defaultAction === "SCMP_ACT_ERRNO" ? `errno ${profile.defaultErrnoRet ?? 1}` : profile.defaultAction;
  return {
    code: "Seccomp",
    args: [compiled.program, flags],
    describe: `seccomp filter: ${compiled.program.length / 8} BPF instructions, default ${fallback}${flags & LOG ? ", refusals logged by the kernel" : ""}`,
  };
}

/**
 * Where the seccomp filter goes. With no_new_privs it is the last step
 * before exec. Without it (an OCI config may say noNewPrivileges: false),
 * loading a filter needs CAP_SYS_ADMIN, so it goes before the capabilities
 * are dropped, and the profile must allow the steps that follow (as with runc).
 */
export function seccompPlacement(
  proc: Pick<Process, "noNewPrivileges">, profile: LinuxSeccomp | undefined, logDenials = false,
): { beforePrivileges: Op[]; last?: LinuxSeccomp } {
  if (!profile) return { beforePrivileges: [] };
  if (proc.noNewPrivileges) return { beforePrivileges: [], last: profile };
  return { beforePrivileges: [seccompOp(profile, logDenials)] };
}

/**
 * The last steps of every plan: working directory, a clean signal state and
 * fd table, the create/start barrier, and exec with a PATH search in the
 * process's own PATH.
 */
export function launchOps(
  proc: Pick<Process, "args" | "env" | "cwd"> & { user?: Pick<Process["user"], "umask"> },
  options: {
    init?: boolean; seccomp?: LinuxSeccomp; logSeccompDenials?: boolean; findExecutable?: boolean;
    firstFdToClose?: number; preserveFds?: number; afterStart?: Op[];
  } = {},
): Op[] {
  const ops: Op[] = [];
  const file = proc.args[0]!;
  const search = file.includes("/") ? "" : (envValue(proc.env, "PATH") ?? "");
  if (proc.user?.umask !== undefined) ops.push({ code: "Umask", args: [proc.user.umask], describe: `umask ${proc.user.umask.toString(8).padStart(4, "0")}` });
  ops.push({ code: "Chdir", flags: OpFlag.InRoot, args: [proc.cwd], describe: `chdir ${proc.cwd}` });
  // The OCI door: `start` cannot report a failed execve, so create looks first.
  if (options.findExecutable) ops.push({ code: "FindExec", args: [file, search], describe: `find the executable ${JSON.stringify(file)}` });
  ops.push(
    { code: "ResetSignals", args: [], describe: "reset signal dispositions and mask" },
    { code: "CloexecFds", args: [options.firstFdToClose ?? 3], describe: "close every fd but stdio on exec" },
    { code: "AwaitStart", args: [], describe: "created: wait for start" },
    ...(options.afterStart ?? []),
  );
  if (options.seccomp) {
    // Last but exec: after it, only what the profile allows, and the wait above
    // (a read) and exec itself are the only calls left to make.
    ops.push(seccompOp(options.seccomp, options.logSeccompDenials));
  }
  if (options.init) {
    ops.push({ code: "ForkReaper", args: [], describe: "fork: pid 1 stays as a reaper that forwards signals (--init)" });
  }
  ops.push(...preserveFdOps(options.preserveFds ?? 0).beforeExec);
  ops.push({
    code: "Exec",
    args: [file, { list: proc.args }, { list: proc.env }, search],
    describe: `exec ${proc.args.map((a) => JSON.stringify(a)).join(" ")}`,
  });
  return ops;
}

/** linux.rootfsPropagation: the container's root, once it is "/". Everything starts private. */
function rootPropagationOps(spec: Spec): Op[] {
  const name = spec.linux.rootfsPropagation;
  if (!name) return [];
  const flags = PROPAGATION[name];
  if (flags === undefined) throw new DiycError(`invalid linux.rootfsPropagation ${JSON.stringify(name)}: use one of ${Object.keys(PROPAGATION).join(", ")}`);
  return [{ code: "Mount", args: ["", "/", "", flags, ""], describe: `set propagation of / to ${name}` }];
}


const PERSONALITY: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

function personalityOps(spec: Spec): Op[] {
  const persona = spec.linux.personality;
  if (!persona) return [];
  const value = PERSONALITY[persona.domain];
  if (value === undefined) throw new DiycError(`invalid linux.personality.domain ${JSON.stringify(persona.domain)}: use LINUX or LINUX32`);
  return [{ code: "Personality", args: [value], describe: `personality ${persona.domain}` }];
}

/**
 * A new time namespace (linux.timeOffsets): clone(2) cannot make one, so the
 * helper unshares it for its children and writes the offsets first, while
 * no process is in it yet.
 */
function timeNamespaceOps(spec: Spec): Op[] {
  if (!spec.linux.namespaces.some((ns) => ns.type === "time" && !ns.path)) return [];
  const offsets = spec.linux.timeOffsets ?? {};
  const part = (clock: string) => [BigInt(offsets[clock]?.secs ?? 0), BigInt(offsets[clock]?.nanosecs ?? 0)];
  const [ms, mn] = part("monotonic");
  const [bs, bn] = part("boottime");
  return [{ code: "TimeNamespace", args: [ms!, mn!, bs!, bn!], describe: `new time namespace: monotonic +${ms}s, boottime +${bs}s` }];
}

/** The whole plan for a container made from an image. */
export function compileContainerPlan(inputs: ContainerPlanInputs, lastCap: number): Plan {
  const { spec, rootfs } = inputs;
  const flags = cloneFlags(spec);
  const ops: Op[] = [
    ...joinNamespaceOps(spec),
    { code: "Clone", args: [flags], describe: describeClone(flags) },
  ];
  ops.push(...timeNamespaceOps(spec));
  if (inputs.exitRecord !== undefined) ops.push({ code: "ExitRecord", args: [inputs.exitRecord.path, inputs.exitRecord.reserve], describe: "" });
  if (inputs.cleanupHook !== undefined) ops.push({ code: "CleanupHook", args: [{ list: inputs.cleanupHook }], describe: "" });
  if (inputs.holdMountNamespace && flags & CLONE.NEWNS) {
    ops.push({ code: "HoldMountNamespace", args: [], describe: "the monitor holds the mount namespace (/proc/PID/ns/mnt) until it has reported the exit" });
  }
  if (inputs.oci) {
    if (inputs.oci.startFifo) ops.push({ code: "StartFifo", args: [inputs.oci.startFifo], describe: `the start barrier is the FIFO ${inputs.oci.startFifo}` });
    const console = inputs.oci.consoleSocket;
    if (console && spec.process.terminal) ops.push({ code: "ConsoleSocket", args: [console.path, console.rows, console.cols], describe: `send the pty master to ${console.path}` });
    ops.push(...preserveFdOps(inputs.oci.preserveFds ?? 0).helper);
  }
  ops.push(
    // While the helper's code runs inside the container's namespaces, /proc/1/exe
    // must not give the container a way to the helper binary (CVE-2019-5736).
    // execve of the user's command makes the process dumpable again.
    { code: "SetDumpable", args: [0], describe: "make the init non-dumpable until exec" },
  );
  if (flags & CLONE.NEWUSER) {
    // The maps are written while the init waits; it then becomes the new
    // namespace's root (host root is unmapped there), keeping its capabilities.
    ops.push(
      { code: "Setgid", args: [0], describe: "setgid 0 in the new user namespace" },
      { code: "Setuid", args: [0], describe: "setuid 0 in the new user namespace" },
    );
  }
  if (inputs.detached) ops.push({ code: "Detach", args: [], describe: "leave diyc's session (setsid)" });
  if (inputs.log) {
    // In the foreground (without a pty, whose relay copies it itself), the
    // monitor passes the output on to the user as it logs it ("tee").
    const tee = !inputs.detached && !spec.process.terminal ? 1 : 0;
    ops.push({ code: "Log", args: [inputs.log.path, inputs.log.maxBytes, tee], describe: "" });
  }
  // OCI: the console socket gets the pty, not a relay of ours.
  const terminal = terminalOps(spec.process, inputs.detached === true || inputs.oci?.consoleSocket !== undefined);
  ops.push(...terminal.helper);
  const cgroupNamespace = spec.linux.namespaces.some((ns) => ns.type === "cgroup");
  if (spec.linux.namespaces.some((ns) => ns.type === "cgroup" && !ns.path)) {
    ops.push({ code: "Unshare", args: [CLONE.NEWCGROUP], describe: "unshare the cgroup namespace (our cgroup becomes its root)" });
  }

  // Filesystem: nothing we mount may propagate back to the host.
  // A config may ask for rslave (Kubernetes' HostToContainer): host mounts
  // then still reach the container, and nothing flows back either way.
  if (spec.linux.rootfsPropagation === "rslave" || spec.linux.rootfsPropagation === "slave") {
    ops.push({ code: "Mount", args: ["", "/", "", MS.REC | MS.SLAVE, ""], describe: "make / a slave of the host's mounts, recursively" });
  } else {
    ops.push({ code: "Mount", args: ["", "/", "", MS.REC | MS.PRIVATE, ""], describe: "make / private, recursively" });
  }
  let rootPath = "path" in rootfs ? rootfs.path : rootfs.merged;
  // Idmapped mounts, numbered in the order the helper prepares them (the layers first, then the spec's).
  let idmapped = 0;
  /** A host path as the init reaches it: in a user namespace, the container's own files go through their idmapped mount. */
  let reach = (path: string) => path;
  if ("path" in rootfs) {
    ops.push({ code: "Mount", args: [rootfs.path, rootfs.path, "", MS.BIND | MS.REC, ""], describe: `bind ${rootfs.path} onto itself (pivot_root needs a mount point)` });
  } else if (flags & CLONE.NEWUSER && !inputs.rootless) {
    const staged = userNamespaceRootOps(rootfs, () => idmapped++);
    ops.push(...staged.ops);
    rootPath = staged.root;
    reach = staged.reach;
  } else {
    const overlayData = `lowerdir=${rootfs.lowerdirs.join(":")},upperdir=${rootfs.upperdir},workdir=${rootfs.workdir}${inputs.rootless ? ",userxattr" : ""}`;
    ops.push({ code: "Mount", args: ["overlay", rootfs.merged, "overlay", 0, overlayData], describe: `mount overlay on ${rootfs.merged} (${overlayData})` });
  }
  ops.push({ code: "OpenRoot", args: [rootPath], describe: `open ${rootPath} as the new root` });
  const hooks = spec.hooks;
  if (inputs.oci?.hookState && (hooks?.createContainer?.length || hooks?.startContainer?.length)) {
    ops.push({ code: "HookState", args: [inputs.oci.hookState], describe: `open ${inputs.oci.hookState} for the hooks' stdin` });
  }
  // cgroup v1 cannot be mounted in a user namespace: the container's cgroups are bound instead.
  const cgroupMounts = cgroupNamespace && !(flags & CLONE.NEWUSER);
  for (const mount of spec.mounts) {
    const reached = mount.source === undefined ? mount : { ...mount, source: reach(mount.source) };
    if (mount.idmap) ops.push(...idmapMountOps(mount, idmapped++, inputs.isDirectory));
    else if (mount.type === "cgroup") ops.push(...cgroupMountOps(mount, inputs.cgroupView, cgroupMounts));
    else ops.push(...mountOps(reached, (p) => inputs.isDirectory(mount.source ?? p)));
  }
  const madeDeviceDirs = new Set<string>();
  // /dev/ptmx is always the link to the container's own devpts (podman
  // --privileged lists the host's node too: the link wins, as with runc).
  const devices = (spec.linux.devices ?? []).filter((dev) => dev.path !== "/dev/ptmx");
  const devicePaths = new Set(devices.map((dev) => dev.path));
  for (const dev of devices) {
    if (flags & CLONE.NEWUSER) {
      // mknod is refused inside a user namespace: the host's node is bound instead (as runc does).
      ops.push({ code: "Mount", flags: OpFlag.InRoot | OpFlag.MkfileTarget, args: [dev.path, dev.path, "", MS.BIND, ""], describe: `mount bind ${dev.path} on ${dev.path} (no mknod in a user namespace)` });
      continue;
    }
    const parent = dev.path.slice(0, dev.path.lastIndexOf("/"));
    // podman --privileged lists the host's every device, /dev/cpu/0/cpuid too: make their directories.
    if (parent !== "/dev" && parent !== "" && !madeDeviceDirs.has(parent)) {
      madeDeviceDirs.add(parent);
      ops.push({ code: "Mkdir", flags: OpFlag.InRoot, args: [parent, 0o755], describe: `mkdir -p ${parent}` });
    }
    const type = dev.type === "b" ? S_IFBLK : dev.type === "p" ? S_IFIFO : S_IFCHR;
    const devNumber = makeDevice(dev.major, dev.minor);
    ops.push({
      code: "Mknod",
      flags: OpFlag.InRoot,
      args: [dev.path, type | dev.fileMode, devNumber],
      describe: `mknod ${dev.path} ${dev.type} ${dev.major}:${dev.minor}`,
    });
  }
  for (const [target, path] of DEV_SYMLINKS) {
    if (devicePaths.has(path)) continue; // a device node the config asked for at that path
    ops.push({ code: "Symlink", flags: OpFlag.InRoot, args: [target, path], describe: `symlink ${path} -> ${target}` });
  }
  ops.push(...hookOps("createContainer", hooks?.createContainer));
  ops.push({ code: "PivotRoot", args: [], describe: `pivot_root to ${rootPath}, detach the old root` });
  ops.push(...rootPropagationOps(spec));
  // Like docker, a working directory the image lacks is created (before / may turn read-only).
  if (spec.process.cwd !== "/") {
    ops.push({ code: "Mkdir", flags: OpFlag.InRoot, args: [spec.process.cwd, 0o755], describe: `mkdir -p ${spec.process.cwd}` });
  }
  if (spec.root.readonly) {
    // The root's own mount only: /dev, /proc, volumes and tmpfs mounts below it keep their modes.
    ops.push(mountSetattrOp("/", { set: MOUNT_ATTR.RDONLY, clear: 0 }, false));
  }
  for (const path of spec.linux.maskedPaths) {
    ops.push({ code: "MaskPath", flags: OpFlag.InRoot | OpFlag.Optional, args: [path], describe: `mask ${path}` });
  }
  ops.push(...sysctlOps(spec));
  for (const path of spec.linux.readonlyPaths) {
    // The remount keeps what /proc had: nosuid, nodev, noexec.
    ops.push({ code: "ReadonlyPath", flags: OpFlag.InRoot | OpFlag.Optional, args: [path, MS.NOSUID | MS.NODEV | MS.NOEXEC], describe: `make ${path} read-only` });
  }

  // Identity.
  if (spec.hostname !== undefined) ops.push({ code: "Sethostname", args: [spec.hostname], describe: `sethostname ${spec.hostname}` });
  if (spec.domainname !== undefined) ops.push({ code: "Setdomainname", args: [spec.domainname], describe: `setdomainname ${spec.domainname}` });
  ops.push(...terminal.init);

  ops.push(...personalityOps(spec));
  const seccomp = seccompPlacement(spec.process, spec.linux.seccomp, inputs.logSeccompDenials);
  // diyc's own monitor stays its parent: the container dies with it. Under the
  // OCI door the helper leaves on purpose, and the caller (conmon, the shim) is the monitor.
  ops.push(...rlimitOps(spec.process), ...seccomp.beforePrivileges, ...privilegeOps(spec.process, lastCap), ...(inputs.oci ? [] : [PARENT_DEATH_SIGNAL]));
  ops.push(...launchOps(spec.process, {
    init: inputs.init, seccomp: seccomp.last, logSeccompDenials: inputs.logSeccompDenials, findExecutable: inputs.oci !== undefined,
    preserveFds: inputs.oci?.preserveFds, afterStart: hookOps("startContainer", hooks?.startContainer),
  }));
  return settingsFirst(ops);
}
