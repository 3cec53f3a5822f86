// From what the user asked for (`diyc run` flags, already parsed) to an OCI
// runtime spec. The spec is the container's whole configuration: it is saved
// in container.json, shown by `inspect`, and is all the plan compiler reads.

import type { LinuxResources } from "./resources";
import type { Mount, Namespace, Process, Spec } from "./oci";
import {
  DEFAULT_CAPABILITIES, DEFAULT_DEVICES, DEFAULT_DOMAINNAME, DEFAULT_MASKED_PATHS,
  DEFAULT_MOUNTS, DEFAULT_PATH, DEFAULT_READONLY_PATHS,
} from "./defaults";
import { UsageError } from "../linux/errors";
import { DEFAULT_SECCOMP } from "../seccomp/profile";

export type NetworkMode = "host" | "none" | "bridge";

export interface ContainerOptions {
  name: string;
  args: string[];
  /** KEY=VALUE entries from -e, in order; later ones win. */
  env: string[];
  cwd?: string;
  hostname?: string;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  readOnlyRoot?: boolean;
  terminal: boolean;
  network: NetworkMode;
  resources?: LinuxResources;
  /** Files diyc writes for the container and binds over /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** Extra mounts (volumes, tmpfs), already validated. */
  mounts?: Mount[];
  /** false: no seccomp filter (--security-opt seccomp=unconfined). */
  seccomp?: boolean;
}

/** Validates one -e entry: KEY=VALUE with a non-empty key and no NUL. */
export function validateEnvEntry(entry: string): string {
  const eq = entry.indexOf("=");
  if (eq <= 0 || entry.includes("\0")) throw new UsageError(`invalid environment variable ${JSON.stringify(entry)}: use KEY=VALUE`);
  return entry;
}

/** Default environment, then -e entries; a later KEY replaces an earlier one. */
export function containerEnv(options: Pick<ContainerOptions, "env" | "terminal">, hostname: string): string[] {
  const merged = new Map<string, string>();
  const put = (entry: string) => merged.set(entry.slice(0, entry.indexOf("=")), entry);
  put(`PATH=${DEFAULT_PATH}`);
  put(`HOSTNAME=${hostname}`);
  put("HOME=/root");
  if (options.terminal) put("TERM=xterm");
  for (const entry of options.env) put(validateEnvEntry(entry));
  return [...merged.values()];
}

export function validateCwd(cwd: string): string {
  if (!cwd.startsWith("/")) throw new UsageError(`invalid working directory ${JSON.stringify(cwd)}: it must be an absolute path`);
  if (cwd.includes("\0")) throw new UsageError("invalid working directory: it contains a NUL byte");
  return cwd;
}

/** Hostnames are DNS labels: the kernel takes 64 bytes, DNS wants [a-zA-Z0-9-]. */
export function validateHostname(hostname: string): string {
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) {
    throw new UsageError(`invalid hostname ${JSON.stringify(hostname)}: use up to 63 characters [a-zA-Z0-9.-]`);
  }
  return hostname;
}

function namespaces(network: NetworkMode): Namespace[] {
  const list: Namespace[] = [
    { type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }, { type: "cgroup" },
  ];
  // Without a network option the container shares the host's network, as in the seed.
  if (network !== "host") list.push({ type: "network" });
  return list;
}

/**
 * Root in the container gets the default set; another user gets the same
 * bounding set but no effective capabilities, as with docker.
 */
export function capabilitiesFor(uid: number): Process["capabilities"] {
  const active = uid === 0 ? DEFAULT_CAPABILITIES : [];
  return { bounding: DEFAULT_CAPABILITIES, effective: active, permitted: active, inheritable: [], ambient: [] };
}

export function buildContainerSpec(options: ContainerOptions): Spec {
  const hostname = validateHostname(options.hostname ?? options.name);
  const user = options.user ?? { uid: 0, gid: 0 };
  const etc: Mount[] = [
    { destination: "/etc/hostname", type: "bind", source: options.etcFiles.hostname, options: ["bind", "ro", "nosuid", "nodev", "noexec"] },
    { destination: "/etc/hosts", type: "bind", source: options.etcFiles.hosts, options: ["bind", "nosuid", "nodev", "noexec"] },
    { destination: "/etc/resolv.conf", type: "bind", source: options.etcFiles.resolvConf, options: ["bind", "nosuid", "nodev", "noexec"] },
  ];
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: options.terminal,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [] },
      args: options.args,
      env: containerEnv(options, hostname),
      cwd: validateCwd(options.cwd ?? "/"),
      capabilities: capabilitiesFor(user.uid),
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: options.readOnlyRoot ?? false },
    hostname,
    domainname: DEFAULT_DOMAINNAME,
    mounts: [...DEFAULT_MOUNTS, ...etc, ...(options.mounts ?? [])],
    linux: {
      namespaces: namespaces(options.network),
      resources: options.resources,
      maskedPaths: DEFAULT_MASKED_PATHS,
      readonlyPaths: DEFAULT_READONLY_PATHS,
      devices: DEFAULT_DEVICES,
      seccomp: options.seccomp === false ? undefined : DEFAULT_SECCOMP,
    },
  };
}
