// The OCI runtime-spec, the subset diyc uses, with the spec's own field names
// (https://github.com/opencontainers/runtime-spec/blob/main/config.md).
// A container's configuration is a Spec; the plan compiler reads nothing else.

import type { LinuxResources } from "./resources";
import type { Scheduler } from "../linux/scheduling";

export interface Spec {
  ociVersion: string;
  process: Process;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: Mount[];
  linux: Linux;
  annotations?: Record<string, string>;
  hooks?: Hooks;
}

/** A hook: a host program run with the state JSON on stdin (config.md#posix-platform-hooks). */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds. */
  timeout?: number;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable: string[];
    ambient: string[];
  };
  noNewPrivileges: boolean;
  rlimits?: { type: string; soft: number; hard: number }[];
  oomScoreAdj?: number;
  apparmorProfile?: string;
  selinuxLabel?: string;
  scheduler?: Scheduler;
  ioPriority?: { class: string; priority: number };
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** An idmapped bind (OCI "idmap"/"ridmap"): ownership shown through the container's user namespace. */
  idmap?: { recursive: boolean };
}

export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Linux {
  namespaces: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  resources?: LinuxResources;
  maskedPaths: string[];
  readonlyPaths: string[];
  devices?: LinuxDevice[];
  cgroupsPath?: string;
  seccomp?: LinuxSeccomp;
  /** Namespaced kernel parameters, e.g. "net.ipv4.ping_group_range": "0 2147483647". */
  sysctl?: Record<string, string>;
  rootfsPropagation?: string;
  mountLabel?: string;
  personality?: { domain: string; flags?: string[] };
  timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
}

/** linux.seccomp, as diyc compiles it (src/seccomp/bpf.ts). */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  /** The errno of an SCMP_ACT_ERRNO default (EPERM when absent). */
  defaultErrnoRet?: number;
  architectures: string[];
  /** seccomp(2) flags by name, e.g. SECCOMP_FILTER_FLAG_LOG. */
  flags?: string[];
  syscalls: SeccompRule[];
}

/** The seccomp actions diyc knows: the profile reader accepts these, the compiler turns each into a BPF return, `features` lists them. */
export const SECCOMP_ACTIONS = [
  "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

/** The argument comparisons diyc knows, likewise. */
export const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

export interface SeccompArg {
  index: number;
  /** 64-bit values: a number below 2^53, or a bigint. */
  value: number | bigint;
  valueTwo?: number | bigint;
  op: SeccompOperator;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  /** The errno of SCMP_ACT_ERRNO (EPERM when absent), or the value SCMP_ACT_TRACE passes to the tracer. */
  errnoRet?: number;
  /** All must hold for the rule to apply; the first rule that applies decides. */
  args?: SeccompArg[];
}

export interface LinuxDevice {
  path: string;
  type: "c" | "b" | "p";
  major: number;
  minor: number;
  fileMode: number;
  uid?: number;
  gid?: number;
}
