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
