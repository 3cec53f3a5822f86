// From what the user asked for (`diyc run` flags, already parsed) to an OCI
// runtime spec. The spec is the container's whole configuration: it is saved
// in container.json, shown by `inspect`, and is all the plan compiler reads.

import type { LinuxResources } from "./resources";
import type { IdMapping, LinuxDevice, LinuxSeccomp, Mount, Namespace, Process, Spec } from "./oci";
import {
  DEFAULT_CAPABILITIES, DEFAULT_DEVICES, DEFAULT_DOMAINNAME, DEFAULT_MASKED_PATHS,
  DEFAULT_MOUNTS, DEFAULT_PATH, DEFAULT_READONLY_PATHS,
} from "./defaults";
import { CAPABILITIES } from "../linux/capabilities";
import { UsageError } from "../linux/errors";
import { release } from "node:os";
import { forContainer, type DockerSeccompProfile } from "../seccomp/docker-profile";
import { defaultSeccompProfile } from "../seccomp/profile";

/** "pasta": rootless, a network namespace of its own connected by pasta(1) (network/rootless.ts). */
export type NetworkMode = "host" | "none" | "bridge" | "pasta";

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
  /**
   * The seccomp profile: the default when absent; false for none
   * (--security-opt seccomp=unconfined); or a docker-format profile file.
   */
  seccomp?: false | DockerSeccompProfile;
  /** --cap-add / --cap-drop: names with or without CAP_, any case, or ALL. */
  capAdd?: string[];
  /** What ALL means: the capabilities diyc holds (linux/capabilities.ts ownCapabilities). */
  availableCapabilities?: string[];
  capDrop?: string[];
  /**
   * --privileged: not isolation, but the host's powers (as docker's): every
   * capability, no seccomp filter (unless a profile is given), no masked or
   * read-only /proc paths, a writable /sys, no no_new_privs, and the host's
   * devices (these, listed by the caller from /dev, become nodes in the
   * container's /dev, and the device cgroup allows them all).
   */
  privileged?: { devices: LinuxDevice[] };
  /** --dns and --dns-search: the container's resolv.conf says these instead of the host's. */
  dns?: { servers: string[]; search: string[] };
  /** --add-host NAME:IP: extra lines of /etc/hosts. */
  extraHosts?: { name: string; ip: string }[];
  /**
   * --userns: "host" (the default: the host's ids, as before) or "auto" (a
   * user namespace of its own; the runtime picks the range and passes
   * `usernsBase`, the host id of the container's root).
   */
  userns?: "host" | "auto";
  usernsBase?: number;
  /**
   * Rootless diyc (linux/rootless.ts): the container always has a user
   * namespace, mapped onto the user and the user's subordinate ids. Its
   * layers are already owned by those ids, and its volumes show the user's
   * files as root's: nothing is idmapped.
   */
  rootlessMaps?: { uid: IdMapping[]; gid: IdMapping[] };
}

/** "net_raw", "NET_RAW" or "CAP_NET_RAW" → "CAP_NET_RAW"; "all" → "ALL"; unknown names are one line. */
function capabilityName(name: string, flag: string): string {
  const upper = name.toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!(CAPABILITIES as readonly string[]).includes(full)) throw new UsageError(`unknown capability ${JSON.stringify(name)} in ${flag}`);
  return full;
}

/**
 * The bounding set: the default, minus --cap-drop, plus --cap-add (docker's
 * order: `--cap-drop ALL --cap-add CHOWN` leaves only CHOWN).
 */
export function boundingSet(capAdd: string[] = [], capDrop: string[] = [], available: readonly string[] = CAPABILITIES): string[] {
  const add = capAdd.map((c) => capabilityName(c, "--cap-add"));
  const drop = capDrop.map((c) => capabilityName(c, "--cap-drop"));
  // ALL is every capability diyc itself holds: one it lacks cannot be given.
  const set = new Set(add.includes("ALL") ? available : drop.includes("ALL") ? [] : DEFAULT_CAPABILITIES);
  for (const cap of drop) if (!add.includes(cap)) set.delete(cap);
  for (const cap of add) {
    if (cap === "ALL") continue;
    if (!available.includes(cap)) throw new UsageError(`cannot add ${cap}: diyc itself does not hold it, so no container of its can`);
    set.add(cap);
  }
  return CAPABILITIES.filter((c) => set.has(c));
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

function namespaces(network: NetworkMode, userns: boolean): Namespace[] {
  const list: Namespace[] = [
    ...(userns ? [{ type: "user" as const }] : []),
    { type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }, { type: "cgroup" },
  ];
  // Without a network option the container shares the host's network, as in the seed.
  if (network !== "host") list.push({ type: "network" });
  return list;
}

/**
 * Root in the container gets the whole set; another user gets the same
 * bounding set but no effective capabilities, as with docker. `exec` passes
 * the container's own bounding set, so its processes never get more.
 */
export function capabilitiesFor(uid: number, bounding: string[] = DEFAULT_CAPABILITIES): Process["capabilities"] {
  const active = uid === 0 ? bounding : [];
  return { bounding, effective: active, permitted: active, inheritable: [], ambient: [] };
}

/**
 * The hostname a container gets when none is asked for: its name, made a
 * valid one. Names may hold "_" and be 64 characters long; hostnames may
 * not (my_c → my-c, cut to 63).
 */
export function hostnameFromName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "").slice(0, 63).replace(/[.-]+$/, "");
  return cleaned === "" ? "container" : cleaned;
}

export function buildContainerSpec(options: ContainerOptions): Spec {
  const hostname = options.hostname === undefined ? hostnameFromName(options.name) : validateHostname(options.hostname);
  const user = options.user ?? { uid: 0, gid: 0 };
  const privileged = options.privileged !== undefined;
  const auto = options.userns === "auto";
  if (auto && options.rootlessMaps) throw new UsageError("--userns=auto is for root: a rootless container has a user namespace already, mapped onto your subordinate ids");
  if (auto && options.usernsBase === undefined) throw new UsageError("--userns=auto: no id range was given to the container");
  const userns = auto || options.rootlessMaps !== undefined;
  const capabilities = capabilitiesFor(user.uid, boundingSet(privileged ? ["ALL"] : options.capAdd, privileged ? [] : options.capDrop, options.availableCapabilities));
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
      capabilities,
      noNewPrivileges: !privileged,
    },
    root: { path: "rootfs", readonly: options.readOnlyRoot ?? false },
    hostname,
    domainname: DEFAULT_DOMAINNAME,
    // A volume on /etc/hostname, /etc/hosts or /etc/resolv.conf replaces diyc's file, as with docker.
    mounts: [
      ...DEFAULT_MOUNTS.map((m) => (m.destination === "/sys" ? sysMount(m, privileged, userns && options.network === "host") : m)),
      ...etc.filter((m) => !options.mounts?.some((v) => v.destination === m.destination)),
      // In a user namespace a host directory's root-owned files would show as nobody:
      // volumes are idmapped to the container's namespace (the host's root is its root).
      ...(options.mounts ?? []).map((m) => (auto && m.type === "bind" ? { ...m, idmap: { recursive: true } } : m)),
    ],
    linux: {
      namespaces: namespaces(options.network, userns),
      ...(options.rootlessMaps ? { uidMappings: options.rootlessMaps.uid, gidMappings: options.rootlessMaps.gid } : {}),
      ...(auto ? { uidMappings: idMappingsFor(options.usernsBase!), gidMappings: idMappingsFor(options.usernsBase!) } : {}),
      resources: privileged
        ? { ...options.resources, devices: [{ allow: true, type: "a", major: "*", minor: "*", access: "rwm" }] }
        : options.resources,
      maskedPaths: privileged ? [] : DEFAULT_MASKED_PATHS,
      readonlyPaths: privileged ? [] : DEFAULT_READONLY_PATHS,
      devices: privileged ? mergeDevices(DEFAULT_DEVICES, options.privileged!.devices) : DEFAULT_DEVICES,
      seccomp: privileged && options.seccomp === undefined ? undefined : seccompFor(options.seccomp, capabilities.bounding),
      // Ping without CAP_NET_RAW: ICMP echo sockets for every group, as podman does. Only
      // in a network namespace of the container's own: on the host's it would change the host.
      // (In a user namespace the range must hold only its own, mapped, groups.)
      ...(options.network === "host" ? {} : { sysctl: { "net.ipv4.ping_group_range": userns ? "0 65535" : "0 2147483647" } }),
    },
  };
}

/** The ids a --userns=auto container gets: 0..65535 inside, a claimed slice of /etc/subuid outside. */
export const USERNS_SIZE = 65536;

/** A user namespace maps the container's 0-65535 onto the host ids from `base`. */
function idMappingsFor(base: number): IdMapping[] {
  return [{ containerID: 0, hostID: base, size: USERNS_SIZE }];
}

/**
 * /sys: read-only sysfs; writable with --privileged. In a user namespace on
 * the host's network a sysfs cannot be mounted (the kernel wants the network
 * namespace to belong to the user namespace): the host's /sys is bound, read-only.
 */
function sysMount(m: Mount, privileged: boolean, hostNetworkInUserns: boolean): Mount {
  if (hostNetworkInUserns) return { destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] };
  return privileged ? { ...m, options: m.options?.filter((o) => o !== "ro") } : m;
}

/** The standard devices, then the host's others (a path listed twice keeps its first). */
function mergeDevices(standard: LinuxDevice[], host: LinuxDevice[]): LinuxDevice[] {
  const paths = new Set(standard.map((d) => d.path));
  return [...standard, ...host.filter((d) => !paths.has(d.path))];
}

function seccompFor(choice: ContainerOptions["seccomp"], bounding: string[]): LinuxSeccomp | undefined {
  if (choice === false) return undefined;
  if (choice === undefined) return defaultSeccompProfile(bounding);
  const [major = 0, minor = 0] = release().split(".").map((part) => parseInt(part, 10));
  return forContainer(choice, bounding, [major, minor]);
}
