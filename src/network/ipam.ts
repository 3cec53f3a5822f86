// IP address management: which container holds which address on a network.
//
//   REGISTRY/NET/leases/172.16.0.30    contents: the container's name, and on a
//                                      second line the root of its store unless
//                                      that is the registry's home store
//
// The registry (Store.networkDir) is shared by every store on the host that
// uses these networks, so two stores never hand out one address twice.
//
// One file per address, created with link(2) from a complete temporary file:
// link fails with EEXIST if the address is taken, so two `diyc run`s starting
// at the same moment can never both win an address, and a reader never sees a
// half-written lease. No lock and no daemon are needed.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { UsageError } from "../linux/errors";
import type { Store } from "../store/store";
import { readDirIfExists, readIfExists } from "../store/atomic";
import { claimExclusive, removeIfExists, sweepStaleClaims } from "./claim";
import { broadcastOf, contains, formatIpv4, parseIpv4, type Subnet } from "./ipv4";

export interface Lease {
  ip: string;
  container: string;
  /** The root of the container's store; absent for the registry's home store (homeStoreRoot). */
  store?: string;
  /** The container's hostname when it is not its name (--hostname): it resolves too. */
  hostname?: string;
}

/**
 * The store whose network directory the registry is (/var/lib/diyc for
 * /var/lib/diyc/network): its leases and claims are written as before the
 * registry was shared, one name per file, so its records stay readable both ways.
 */
export function homeStoreRoot(store: Store): string {
  return dirname(store.networkDir);
}

/** The store root a lease or claim belongs to. */
export function ownerRoot(store: Store, record: { store?: string }): string {
  return record.store ?? homeStoreRoot(store);
}

/** How this store is named in the records: nothing for the home store, else its root. */
export function storeScope(store: Store): string | undefined {
  return store.root === homeStoreRoot(store) ? undefined : store.root;
}

/** A record's `store` field: storeScope's, absent for the registry's home store. */
export function storeField(store: Store): { store?: string } {
  const scope = storeScope(store);
  return scope === undefined ? {} : { store: scope };
}

/** A lease file: the container, its store (empty for the home store), its hostname if another. */
function leaseContent(store: Store, container: string, hostname?: string): string {
  const scope = storeScope(store);
  if (hostname !== undefined && hostname !== container) return `${container}\n${scope ?? ""}\n${hostname}\n`;
  return scope === undefined ? `${container}\n` : `${container}\n${scope}\n`;
}

function parseLease(ip: string, text: string): Lease {
  const [container = "", store, hostname] = text.split("\n");
  return { ip, container, ...(store ? { store } : {}), ...(hostname ? { hostname } : {}) };
}

/** What IPAM needs to know about a network. */
export interface AddressPool {
  /** The network's name: its directory in the store. */
  name: string;
  subnet: Subnet;
  gateway: number;
}

export function networkStateDir(store: Store, network: string): string {
  return join(store.networkDir, network);
}

export function leasesDir(store: Store, network: string): string {
  return join(networkStateDir(store, network), "leases");
}

function isLeaseName(name: string): boolean {
  return parseIpv4(name) !== undefined;
}

/** The lease of `ip`, or undefined if it is free. */
export function readLease(store: Store, network: string, ip: string): Lease | undefined {
  const text = readIfExists(join(leasesDir(store, network), ip));
  return text === undefined ? undefined : parseLease(ip, text);
}

/** The container holding `ip`, or undefined if it is free. */
export function leaseHolder(store: Store, network: string, ip: string): string | undefined {
  return readLease(store, network, ip)?.container;
}

/** Every lease on the network, in address order. */
export function listLeases(store: Store, network: string): Lease[] {
  const dir = leasesDir(store, network);
  const leases: Lease[] = [];
  for (const ip of readDirIfExists(dir).filter(isLeaseName)) {
    const lease = readLease(store, network, ip);
    if (lease !== undefined) leases.push(lease);
  }
  return leases.sort((a, b) => parseIpv4(a.ip)! - parseIpv4(b.ip)!);
}

/**
 * Why `ip` cannot be handed out on this pool, or undefined if it could be:
 * the subnet's own network, broadcast and gateway addresses are never leased.
 */
export function unusableReason(pool: AddressPool, ip: number): string | undefined {
  if (!contains(pool.subnet, ip)) return "is outside the subnet";
  if (ip === pool.subnet.network) return "is the subnet's network address";
  if (ip === broadcastOf(pool.subnet)) return "is the subnet's broadcast address";
  if (ip === pool.gateway) return "is the gateway's address";
  return undefined;
}

/**
 * Leases an address to `container`: `requested` if given (already validated
 * against the pool), else the lowest free one. Throws UsageError when the
 * requested address is taken or the pool is full.
 */
export function claimAddress(store: Store, pool: AddressPool, container: string, requested?: string, hostname?: string): string {
  const dir = leasesDir(store, pool.name);
  sweepStaleClaims(dir); // left by a diyc killed in the middle of a claim
  if (requested !== undefined) {
    if (claimExclusive(dir, requested, leaseContent(store, container, hostname))) return requested;
    const holder = readLease(store, pool.name, requested);
    const whose = holder === undefined ? "another container" : holder.store === undefined || holder.store === store.root
      ? holder.container : `${holder.container} of store ${holder.store}`;
    throw new UsageError(`address ${requested} is already in use by container ${whose}`);
  }
  const last = broadcastOf(pool.subnet);
  for (let ip = pool.subnet.network + 1; ip < last; ip++) {
    if (unusableReason(pool, ip) !== undefined) continue;
    const text = formatIpv4(ip);
    // Cheap check first; the link in claimExclusive is what actually decides.
    if (existsSync(join(dir, text))) continue;
    if (claimExclusive(dir, text, leaseContent(store, container, hostname))) return text;
  }
  throw new UsageError(`network ${pool.name}: no free address left in ${formatIpv4(pool.subnet.network)}/${pool.subnet.prefixLength}`);
}

/** Frees every lease `container` of this store holds on the network; returns the addresses freed. */
export function releaseLeases(store: Store, network: string, container: string): string[] {
  return listLeases(store, network)
    .filter((lease) => lease.container === container && ownerRoot(store, lease) === store.root && removeIfExists(join(leasesDir(store, network), lease.ip)))
    .map((lease) => lease.ip);
}

