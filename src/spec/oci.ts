// The OCI runtime-spec, the subset diyc uses, with the spec's own field names
// (https://github.com/opencontainers/runtime-spec/blob/main/config.md).
// A container's configuration is a Spec; the plan compiler reads nothing else.

import type { LinuxResources } from "./resources";

export interface Spec {
  ociVersion: string;
  process: Process;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: Mount[];
  linux: Linux;
  annotations?: Record<string, string>;
}

export interface Process {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
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
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup";

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
}

/** The subset of linux.seccomp diyc compiles (src/seccomp/bpf.ts). */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  architectures: string[];
  syscalls: SeccompRule[];
}

export type SeccompAction = "SCMP_ACT_ALLOW" | "SCMP_ACT_ERRNO" | "SCMP_ACT_KILL_PROCESS";

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** All must hold for the rule to apply. Only SCMP_CMP_MASKED_EQ and SCMP_CMP_EQ, on values below 2^32. */
  args?: { index: number; value: number; valueTwo?: number; op: "SCMP_CMP_MASKED_EQ" | "SCMP_CMP_EQ" }[];
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
