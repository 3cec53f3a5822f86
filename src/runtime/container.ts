// A container's files in the store: its configuration (written once per run),
// its state (pids and times), and the exit record the monitor writes.
// Readers get undefined for a missing file; everything else is an error.

import { join } from "node:path";
import type { Spec } from "../spec/oci";
import type { ContainerOptions } from "../spec/container-spec";
import type { NetworkConfig, PortMapping } from "../network/index";
import { readJsonIfExists, writeJsonAtomic } from "../store/atomic";
import type { ProcessIdentity } from "../linux/process-identity";
import type { Store } from "../store/store";

/**
 * The network a container asked for (--net, -i, -p): the host's, none (its own
 * namespace with only lo), or a bridge network with an address and ports.
 * What was actually connected is ContainerConfig.network.
 */
export type NetworkRequest =
  | { mode: "host" }
  | { mode: "none" }
  | { mode: "bridge"; config: NetworkConfig; ip?: string; publish: PortMapping[] }
  /** Rootless: the container's own network namespace, connected to the host's by pasta (network/rootless.ts). */
  | { mode: "pasta"; publish: PortMapping[] };

/** How to run a container: kept in container.json, so `diyc start` and restarts can do it again. */
export interface RunRequest {
  name: string;
  image: string;
  autoRemove: boolean;
  /** Everything but what diyc itself provides (etcFiles) or derives (network namespace). */
  options: Omit<ContainerOptions, "etcFiles" | "name" | "network">;
  network: NetworkRequest;
  /** Return once started; the monitor keeps the log and cleans up (run -d). */
  detach: boolean;
  /** The container's log (every container has one): rotated to log.1 past this size. */
  logMaxBytes: number;
  restart: RestartPolicy;
  /** --init: a reaper as pid 1 that forwards signals to the command. */
  init?: boolean;
  /**
   * -i: in the foreground the command reads the user's stdin; otherwise
   * /dev/null. Absent in containers made before it existed: they read it, as then.
   */
  interactive?: boolean;
  /** What the image's config said that is not in the spec (src/image/run-config.ts). */
  imageConfig?: { id: string; stopSignal?: string; exposedPorts?: string[]; labels?: Record<string, string> };
}

export type RestartPolicy =
  | { policy: "no" }
  | { policy: "always" }
  | { policy: "on-failure"; maxRetries?: number };

export interface ContainerConfig {
  name: string;
  image: string;
  createdAtMs: number;
  spec: Spec;
  /** What the user asked for, to start it again the same way. */
  request: RunRequest;
  /** The network as connected; absent for host networking. */
  network?: { mode: "none" | "bridge" | "pasta"; network?: string; ip?: string; publish?: string[] };
}

export interface ContainerState {
  monitor: ProcessIdentity;
  init: ProcessIdentity;
  createdAtMs: number;
  startedAtMs?: number;
  /** Set after the exit when the kernel's OOM killer ended the container. */
  oomKilled?: boolean;
  /** `diyc stop` or `kill` asked for this end: no restart. */
  stopRequested?: boolean;
  /** Restarts done under the restart policy since the last run/start by the user. */
  restartCount?: number;
  /** The process (the monitor's clean-up hook) waiting to start the container again, between two runs of a restart policy. */
  restartingBy?: ProcessIdentity;
}

/** Written by native/monitor.c. */
export interface ExitRecord {
  waitStatus: number;
  finishedAtMs: number;
}

export function containerFiles(store: Store, name: string) {
  const dir = store.containerDir(name);
  return {
    dir,
    config: join(dir, "container.json"),
    state: join(dir, "state.json"),
    exit: join(dir, "exit.json"),
    /** Space for the exit record, taken at create: a full disk cannot lose the exit status. */
    exitReserve: join(dir, "exit.json.reserve"),
    log: join(dir, "container.log"),
    upper: join(dir, "upper"),
    work: join(dir, "work"),
    merged: join(dir, "merged"),
    hostname: join(dir, "hostname"),
    hosts: join(dir, "hosts"),
    /** --add-host entries, appended to the hosts file whoever writes it. */
    hostsExtra: join(dir, "hosts.extra"),
    resolvConf: join(dir, "resolv.conf"),
    /** Rootless networking: pasta's pid, written by pasta itself (network/rootless.ts). */
    pastaPid: join(dir, "pasta.pid"),
  };
}

export type ContainerFiles = ReturnType<typeof containerFiles>;

export const readConfig = (store: Store, name: string) => readJsonIfExists<ContainerConfig>(containerFiles(store, name).config);
export const readState = (store: Store, name: string) => readJsonIfExists<ContainerState>(containerFiles(store, name).state);
export const readExitRecord = (store: Store, name: string) => readJsonIfExists<ExitRecord>(containerFiles(store, name).exit);

export function writeConfig(store: Store, config: ContainerConfig): void {
  writeJsonAtomic(containerFiles(store, config.name).config, config);
}

export function writeState(store: Store, name: string, state: ContainerState): void {
  writeJsonAtomic(containerFiles(store, name).state, state);
}
