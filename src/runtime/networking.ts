// The runtime's side of container networking: when to set the default
// network up, connecting the init's network namespace while it waits at the
// sync barrier, and disconnecting after it exits. The kernel work itself is
// in src/network/.

import { existsSync } from "node:fs";
import { DiycError } from "../linux/errors";
import {
  attachContainer, bringUpLoopback, DEFAULT_NETWORK, detachContainer, formatPublish,
  loadNetworkConfig, reconcileNetwork, setupNetwork, type NetworkConfig,
} from "../network/index";
import { containerFiles, type ContainerConfig, type NetworkRequest } from "./container";
import { attachWithPasta, bringUpLoopbackAsOwner, detachPasta } from "../network/rootless";
import { ContainerLock } from "../store/lock";
import { containerStatus } from "./status";
import type { RuntimeContext } from "./context";
import { Store } from "../store/store";

/** What was connected (container.json's `network`), so clean-up knows what to undo; NetworkRequest is what was asked for. */
export type ConnectedNetwork = NonNullable<ContainerConfig["network"]>;

const hostLog = (ctx: RuntimeContext) => ctx.trace?.host;

/** The network named by --net: "bridge" is the default network, set up on first use as docker does. */
export function resolveNetwork(ctx: RuntimeContext, name: string): NetworkConfig {
  if (name === "bridge" || name === DEFAULT_NETWORK.name) return loadNetworkConfig(ctx.store, DEFAULT_NETWORK.name) ?? DEFAULT_NETWORK;
  const config = loadNetworkConfig(ctx.store, name);
  if (!config) throw new DiycError(`no such network: ${name} (create it with diyc network setup --bridge ${name} --subnet CIDR)`);
  return config;
}

/** Sets the default network up if it is not (first use, or after a reboot removed the bridge). */
function ensureReady(ctx: RuntimeContext, config: NetworkConfig): void {
  const ready = loadNetworkConfig(ctx.store, config.name) && existsSync(`/sys/class/net/${config.bridge}`);
  if (ready) return;
  if (config.name !== DEFAULT_NETWORK.name) {
    throw new DiycError(`network ${config.name} is not set up: run diyc network setup --bridge ${config.bridge}`);
  }
  setupNetwork(ctx.store, config, hostLog(ctx));
}

/**
 * A lease is stale when its container is neither running nor being worked on
 * (someone holds its lock: it may be starting right now). The network is
 * shared by the host's stores, so the lease's own store is asked; a store
 * that no longer exists holds nothing.
 */
function holdsLeaseRightfully(ctx: RuntimeContext, container: string, storeRoot: string): boolean {
  const store = storeRoot === ctx.store.root ? ctx.store : new Store(storeRoot, ctx.store.networkDir);
  // Removed, or its store deleted: stale. (A create makes the directory before it claims a lease.)
  if (!existsSync(store.containerDir(container))) return false;
  const lock = ContainerLock.tryAcquire(store, container, ctx.syscalls);
  if (!lock) return true; // busy: another diyc is creating or removing it
  try {
    return containerStatus(store, container).status !== "exited";
  } finally {
    lock.release();
  }
}

/** Before a container is created: the network exists, and leases of dead containers are freed. */
export function prepareNetwork(ctx: RuntimeContext, name: string, request: NetworkRequest): void {
  if (request.mode !== "bridge") return;
  ensureReady(ctx, request.config);
  reconcileNetwork(ctx.store, request.config, (lease) => (lease.container === name && lease.store === ctx.store.root) || holdsLeaseRightfully(ctx, lease.container, lease.store), hostLog(ctx));
}

/** While the init waits at the barrier: give its namespace its interfaces. */
export function connectContainer(ctx: RuntimeContext, name: string, pid: number, request: NetworkRequest, hostname?: string): ConnectedNetwork | undefined {
  const log = hostLog(ctx) ?? (() => {});
  if (request.mode === "host") return undefined;
  if (request.mode === "none") {
    // Rootless, the user may enter the namespace only through its user namespace (network/rootless.ts).
    if (ctx.store.rootless) bringUpLoopbackAsOwner(pid, log);
    else bringUpLoopback(pid, hostLog(ctx));
    return { mode: "none" };
  }
  if (request.mode === "pasta") {
    const attachment = attachWithPasta(ctx.store, { container: name, pid, publish: request.publish, pidFile: containerFiles(ctx.store, name).pastaPid }, log);
    return { mode: "pasta", publish: attachment.publish.map(formatPublish) };
  }
  const attachment = attachContainer(ctx.store, request.config, { container: name, pid, ip: request.ip, publish: request.publish, hostname }, hostLog(ctx));
  return { mode: "bridge", network: request.config.name, ip: attachment.ip, publish: attachment.publish.map(formatPublish) };
}

/**
 * After the init exited: free the lease and the port rules. The veth pair
 * goes with the container's network namespace (see DetachOptions).
 */
export function disconnectContainer(ctx: RuntimeContext, name: string, record: ConnectedNetwork | undefined): void {
  if (ctx.store.rootless) {
    // Whatever the record says: a create that died after starting pasta left no record of it.
    detachPasta(ctx.store, name, containerFiles(ctx.store, name).pastaPid, hostLog(ctx) ?? (() => {}));
    return;
  }
  if (record?.mode !== "bridge" || !record.network) return;
  const config = loadNetworkConfig(ctx.store, record.network);
  if (!config) return; // the network was cleaned, and took the container's share with it
  detachContainer(ctx.store, config, name, hostLog(ctx), { namespaceGone: true });
}
