// Container networking: the entry points the runtime and `diyc network` call.
//
//   setupNetwork     bridge + gateway address, ip_forward, the nft table
//   attachContainer  lease, veth pair into the container's netns, eth0 address
//                    and default route, published ports, hosts files
//   detachContainer  undoes attach; safe to run twice or after a crash
//   cleanNetwork     undoes setup (and detaches whatever is still attached)
//
// Every kernel step is one line on `log` (no prefix: the runtime adds `HOST| `).
// Kernel work is rtnetlink from TypeScript (netlink.ts and the modules named
// after what they create); NAT is nftables (nftables.ts); state lives in the
// network registry that the host's stores share (below; ipam.ts, ports.ts).
// See docs/networking.md for the whole picture.

import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../store/store";
import { linuxSyscalls } from "../linux/syscalls";
import { withFileLock } from "../store/lock";
import { DiycError, UsageError } from "../linux/errors";
import { NAME_PATTERN, validateName } from "../spec/names";
import { addAddress, addDefaultRoute } from "./address";
import { ensureBridge } from "./bridge";
import { readDirIfExists, readIfExists, readJsonIfExists, writeJsonAtomic } from "../store/atomic";
import { removeIfExists, sweepStaleClaims } from "./claim";
import { writeHostsFiles } from "./hosts";
import { claimAddress, homeStoreRoot, leasesDir, listLeases, networkStateDir, ownerRoot, releaseLeases, storeField, storeScope, unusableReason, type Lease } from "./ipam";
import { formatIpv4, parseIpv4, parseSubnet, type Subnet } from "./ipv4";
import { deleteLink, deleteLinkByIndex, findLink, getLink, listPorts, MAX_LINK_NAME, setLinkUp, setMaster } from "./link";
import { formatMac, macForName } from "./mac";
import { withNetlink, type NetlinkSocket } from "./netlink";
import { assertOwnNetns, openNetlinkIn } from "./netns";
import { addPortRules, deletePortRules, deleteTable, ensureNetworkRules, TABLE_PATTERN } from "./nftables";
import { ANY_PORT, claimPorts, formatPublish, listPortClaims, portsDir, releasePorts, type PortMapping } from "./ports";
import { describeRoute, HostPorts, hostRoutes, overlaps } from "./listening";
import { ipForwardPath, readSysctl, routeLocalnetPath, writeSysctl } from "./sysctl";
import { CONTAINER_IFNAME, createVethPair, storeVethName } from "./veth";

export { parsePublish, formatPublish, type PortMapping, type Protocol } from "./ports";
export { writeHostsFiles, hostsFilePath } from "./hosts";
export { hostVethName, storeVethName } from "./veth";
export { listLeases, type Lease } from "./ipam";
export { NetlinkError } from "./netlink";
export { NftError } from "./nftables";

/** A network as defined by `network setup` or --net: its name, bridge, subnet, gateway and nft table. */
export interface NetworkConfig {
  /** The network's name: its directory in the store. */
  name: string;
  /** The bridge's link name (at most 15 characters). */
  bridge: string;
  /** CIDR, e.g. 172.16.0.0/24. */
  subnet: string;
  /** The bridge's address and the containers' default route. */
  gateway: string;
  /** The nftables table (family ip) holding this network's rules, and nothing else. */
  table: string;
}

export const DEFAULT_NETWORK: NetworkConfig = {
  name: "diyc0",
  bridge: "diyc0",
  subnet: "172.16.0.0/24",
  gateway: "172.16.0.1",
  table: "diyc",
};

export type Log = (line: string) => void;

const quiet: Log = () => {};

/** What attachContainer set up, for the runtime's records and messages. */
export interface Attachment {
  container: string;
  network: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  /** The host end of the veth pair (a port of the bridge). */
  hostInterface: string;
  /** The container end, inside its namespace. */
  containerInterface: string;
  publish: PortMapping[];
}

export interface AttachRequest {
  container: string;
  /** A process in the container's (new) network namespace, on the host's pid numbering. */
  pid: number;
  /** The address asked for with -i/--ip; the lowest free one when absent. */
  ip?: string;
  publish: PortMapping[];
  /** The container's hostname, listed with its name in every hosts file of the network. */
  hostname?: string;
}

/** A NetworkConfig checked and parsed into numbers (parseNetworkConfig). */
interface ValidatedNetwork {
  cfg: NetworkConfig;
  subnet: Subnet;
  gateway: number;
}

const LINK_NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/;

/** Checks a NetworkConfig before any of it reaches a path, a link name or an nft script. */
export function parseNetworkConfig(cfg: NetworkConfig): ValidatedNetwork {
  if (!NAME_PATTERN.test(cfg.name)) throw new UsageError(`invalid network name ${JSON.stringify(cfg.name)}: use [a-zA-Z0-9_.-], starting with a letter or digit`);
  if (!LINK_NAME.test(cfg.bridge) || cfg.bridge.length > MAX_LINK_NAME) {
    throw new UsageError(`invalid bridge name ${JSON.stringify(cfg.bridge)}: use 1-${MAX_LINK_NAME} characters [a-zA-Z0-9_.-]`);
  }
  if (!TABLE_PATTERN.test(cfg.table)) throw new UsageError(`invalid nft table name ${JSON.stringify(cfg.table)}: use [a-zA-Z0-9_], starting with a letter`);
  const subnet = parseSubnet(cfg.subnet);
  const gateway = parseIpv4(cfg.gateway);
  if (gateway === undefined) throw new UsageError(`invalid gateway ${JSON.stringify(cfg.gateway)}: use an IPv4 address`);
  const pool = { name: cfg.name, subnet, gateway: -1 };
  const why = unusableReason(pool, gateway);
  if (why !== undefined) throw new UsageError(`invalid gateway ${cfg.gateway}: it ${why} ${cfg.subnet}`);
  return { cfg, subnet, gateway };
}

/** A config for a bridge and subnet given on the command line: the gateway is the first address. */
export function networkConfigFor(opts: { bridge?: string; subnet?: string; gateway?: string }): NetworkConfig {
  const bridge = opts.bridge ?? DEFAULT_NETWORK.bridge;
  const subnetText = opts.subnet ?? (bridge === DEFAULT_NETWORK.bridge ? DEFAULT_NETWORK.subnet : undefined);
  if (subnetText === undefined) throw new UsageError(`--subnet is required with --bridge ${bridge}`);
  const subnet = parseSubnet(subnetText);
  const cfg: NetworkConfig = {
    name: bridge,
    bridge,
    subnet: subnetText,
    gateway: opts.gateway ?? formatIpv4(subnet.network + 1),
    // The default network keeps the plain name; others get their own table so
    // cleaning one never touches another's rules.
    table: bridge === DEFAULT_NETWORK.bridge ? DEFAULT_NETWORK.table : `diyc_${bridge.replace(/[^a-zA-Z0-9_]/g, "_")}`,
  };
  parseNetworkConfig(cfg);
  return cfg;
}

/** Checks an address asked for with -i/--ip; returns it in canonical form. */
export function validateRequestedIp(cfg: NetworkConfig, ip: string): string {
  const net = parseNetworkConfig(cfg);
  const n = parseIpv4(ip);
  if (n === undefined) throw new UsageError(`invalid address ${JSON.stringify(ip)}: use an IPv4 address such as ${formatIpv4(net.subnet.network + 2)}`);
  const why = unusableReason({ name: cfg.name, subnet: net.subnet, gateway: net.gateway }, n);
  if (why !== undefined) throw new UsageError(`address ${ip} cannot be used: it ${why} ${cfg.subnet} of network ${cfg.name}`);
  return formatIpv4(n);
}

// --- the network registry ---
//
// Bridges, nft tables, host ports and addresses are the host's, not a
// store's: so the records of networks live in one registry that every store
// on the host shares (Store.networkDir; by default /var/lib/diyc/network, the
// default store's network directory, where they always were):
//
//   REGISTRY/NET/network.json   the config, whether setup made the bridge, the store that set it up
//   REGISTRY/NET/leases/        addresses, each naming its container and store (ipam.ts)
//   REGISTRY/.ports/            host ports claimed (ports.ts)
//   REGISTRY/.ip_forward        ip_forward's value before a setup turned it on
//   REGISTRY/.lock              flock held by setup and clean: one at a time
//
// A store uses any network of the registry (the default network is set up by
// whichever store uses it first, and joined by the others). It removes only
// what it owns, or what nobody owns any more: `clean` refuses a network set up
// by another store that still exists, or used by another store's containers;
// a store deleted without `clean` owns nothing, and its leftovers (leases,
// veths, the table, the bridge) go with the next `clean`. See docs/networking.md.

/** network.json: what `network setup` made, and which store owns it. */
interface NetworkSetupRecord {
  config: NetworkConfig;
  createdBridge: boolean;
  /** The root of the store that set it up; absent in records written before (the registry's home store). */
  owner?: string;
}

function stateFile(store: Store, network: string): string {
  return join(networkStateDir(store, network), "network.json");
}

function readNetworkState(store: Store, network: string): NetworkSetupRecord | undefined {
  return readJsonIfExists<NetworkSetupRecord>(stateFile(store, network));
}

function ipForwardRecord(store: Store): string {
  return join(store.networkDir, ".ip_forward");
}

/** The networks of the registry. */
export function listNetworks(store: Store): NetworkConfig[] {
  return readDirIfExists(store.networkDir)
    .filter((name) => NAME_PATTERN.test(name))
    .flatMap((name) => {
      const state = readNetworkState(store, name);
      return state === undefined ? [] : [state.config];
    });
}

/** The config `setupNetwork` recorded for `name` in the registry. */
export function loadNetworkConfig(store: Store, name: string): NetworkConfig | undefined {
  return readNetworkState(store, name)?.config;
}

/**
 * Runs `fn` holding the registry's lock: setup and clean check, then act, and
 * two of them at once (two first uses of the default network) must not
 * interleave. A file that is never deleted, so the lock cannot vanish.
 */
export function withRegistryLock<T>(store: Store, fn: () => T): T {
  return withFileLock(join(store.networkDir, ".lock"), linuxSyscalls, fn);
}

/** The same store, with the registry it was opened with: for another store's records. */
function storeAt(store: Store, root: string): Store {
  return root === store.root ? store : new Store(root, store.networkDir);
}

/**
 * Whether a record (lease or port claim) of another store still has an owner:
 * its store and its container directory exist. A deleted store, or a
 * container removed without its network being released, owns nothing.
 */
function ownedElsewhere(store: Store, record: { container: string; store?: string }): boolean {
  const root = ownerRoot(store, record);
  return root !== store.root && existsSync(storeAt(store, root).containerDir(record.container));
}

/** A bridge diyc made carries the MAC diyc derives from its name (bridge.ts): no one else's does. */
function madeByDiyc(link: { kind?: string; address?: string } | undefined, name: string): boolean {
  return link?.kind === "bridge" && link.address === formatMac(macForName(name));
}

/**
 * A bridge recorded in no registry is this network's if diyc made it for this
 * very subnet (its gateway address puts the subnet's route on it): the old
 * default bridge of a store that is gone, or of a diyc from before the
 * registry. One made for another subnet belongs to another registry's network.
 */
function isThisNetworksBridge(link: { kind?: string; address?: string } | undefined, cfg: NetworkConfig, subnet: Subnet): boolean {
  return madeByDiyc(link, cfg.bridge) &&
    hostRoutes().some((r) => r.device === cfg.bridge && r.subnet.network === subnet.network && r.subnet.prefixLength === subnet.prefixLength);
}

/** Refuses a subnet that another network of the registry, or a route of the host, already covers. */
function refuseOverlaps(store: Store, cfg: NetworkConfig, subnet: Subnet): void {
  for (const other of listNetworks(store)) {
    if (other.name === cfg.name) continue;
    if (overlaps(subnet, parseSubnet(other.subnet))) {
      throw new UsageError(`pool overlaps with network ${other.name} (${other.subnet} on ${other.bridge}): choose another --subnet`);
    }
  }
  for (const route of hostRoutes()) {
    // Its own bridge's route is there after a first setup: setting up again is allowed.
    if (route.device === cfg.bridge) continue;
    if (overlaps(subnet, route.subnet)) {
      throw new UsageError(`pool overlaps with the host's route ${describeRoute(route)}: choose another --subnet`);
    }
  }
}

// --- setup and clean ---

/**
 * Creates the network, or completes it: every step checks first, so running it
 * again (or after a half-finished run, or from another store, or from two
 * processes at once) is harmless and keeps attached containers.
 */
export function setupNetwork(store: Store, cfg: NetworkConfig, log: Log = quiet): void {
  const net = parseNetworkConfig(cfg);
  withRegistryLock(store, () => {
    const previous = readNetworkState(store, cfg.name);
    if (previous !== undefined && JSON.stringify(previous.config) !== JSON.stringify(cfg)) {
      throw new UsageError(`network ${cfg.name} is already set up with ${JSON.stringify(previous.config)}: clean it first`);
    }
    if (previous === undefined) refuseOverlaps(store, cfg, net.subnet);
    withNetlink((host) => {
      const before = findLink(host, cfg.bridge);
      // A bridge with diyc's MAC that the registry does not know was made by a
      // store that is gone, or by a diyc before the registry: adopted, so that
      // it can be used and cleaned. Anything else of that name is someone else's.
      if (before !== undefined && previous?.createdBridge !== true && !isThisNetworksBridge(before, cfg, net.subnet)) {
        throw new UsageError(`link ${cfg.bridge} already exists and was not created by diyc for this network: choose another --bridge`);
      }
      if (before !== undefined && previous === undefined) log(`adopt bridge ${cfg.bridge}: made by diyc, recorded nowhere`);
      // The record comes first: a setup that dies right after making the bridge
      // must leave a bridge the registry knows, not one every later setup refuses.
      mkdirSync(leasesDir(store, cfg.name), { recursive: true, mode: 0o700 });
      const owner = previous === undefined ? store.root : previous.owner;
      const state: NetworkSetupRecord = { config: cfg, createdBridge: true, ...(owner === undefined || owner === homeStoreRoot(store) ? {} : { owner }) };
      if (JSON.stringify(previous) !== JSON.stringify(state)) writeJsonAtomic(stateFile(store, cfg.name), state);
      const { link, created, readdressed } = ensureBridge(host, cfg.bridge);
      log(created ? `create bridge ${cfg.bridge}` : `bridge ${cfg.bridge} exists`);
      if (readdressed) log(`set address of ${cfg.bridge} to ${link.address}`);
      if (addAddress(host, link, net.gateway, net.subnet)) log(`add address ${cfg.gateway}/${net.subnet.prefixLength} to ${cfg.bridge}`);
      setLinkUp(host, link);
      log(`set ${cfg.bridge} up`);
    });
    writeSysctl(routeLocalnetPath(cfg.bridge), "1");
    log(`sysctl net.ipv4.conf.${cfg.bridge}.route_localnet=1`);
    const forward = readSysctl(ipForwardPath());
    if (forward !== "1") {
      // Remember the original value once, so the last clean restores it.
      if (readIfExists(ipForwardRecord(store)) === undefined) writeJsonAtomic(ipForwardRecord(store), forward);
      writeSysctl(ipForwardPath(), "1");
      log(`sysctl net.ipv4.ip_forward=1 (was ${forward})`);
    }
    ensureNetworkRules({ table: cfg.table, bridge: cfg.bridge, subnet: net.subnet });
    log(`nft: set up table ip ${cfg.table} (masquerade ${cfg.subnet}, forward ${cfg.bridge}, published ports)`);
  });
}

/**
 * Removes what setup added: the containers still attached (their veths,
 * leases, port claims), the nft table, the bridge if diyc made it, the
 * network's record, and ip_forward's original value once no network is left.
 * Idempotent. Refused (nothing touched) when the network is not this store's
 * to remove: set up by another store that still exists, or used by another
 * store's containers.
 */
export function cleanNetwork(store: Store, cfg: NetworkConfig, log: Log = quiet): void {
  const net = parseNetworkConfig(cfg);
  withRegistryLock(store, () => {
    const state = readNetworkState(store, cfg.name);
    const owner = state === undefined ? undefined : state.owner ?? homeStoreRoot(store);
    if (owner !== undefined && owner !== store.root && existsSync(owner)) {
      throw new DiycError(`network ${cfg.name} belongs to store ${owner}: clean it from there (diyc --root ${owner} network clean --bridge ${cfg.bridge})`);
    }
    const leases = listLeases(store, cfg.name);
    const claims = listPortClaims(store).filter((c) => c.network === cfg.name);
    const others = [...leases, ...claims].filter((record) => ownedElsewhere(store, record));
    if (others.length > 0) {
      const users = [...new Set(others.map((r) => `${r.container} of store ${ownerRoot(store, r)}`))];
      throw new DiycError(`network ${cfg.name} is in use by container ${users.join(", ")}: remove ${users.length > 1 ? "them" : "it"} first`);
    }
    if (state === undefined) {
      // Recorded nowhere: removed only if it is this network's and nobody can
      // be using it (no port on the bridge). Anything else may be another
      // registry's network, table included: left alone.
      const bridge = withNetlink((host) => {
        const link = findLink(host, cfg.bridge);
        return link === undefined ? undefined : { link, ports: listPorts(host, link.index).length };
      });
      if (bridge !== undefined && (!isThisNetworksBridge(bridge.link, cfg, net.subnet) || bridge.ports > 0)) {
        log(`bridge ${cfg.bridge} is not recorded in ${store.networkDir} and ${bridge.ports > 0 ? "has ports" : `was not created by diyc for ${cfg.subnet}`}: left alone`);
        rmSync(networkStateDir(store, cfg.name), { recursive: true, force: true });
        return;
      }
    }
    // Every record left is this store's or an owner's that is gone.
    const attached = new Map<string, { container: string; store?: string }>();
    for (const record of [...leases, ...claims]) attached.set(`${ownerRoot(store, record)}\0${record.container}`, record);
    for (const record of attached.values()) detachContainer(storeAt(store, ownerRoot(store, record)), cfg, record.container, log);
    if (deleteTable(cfg.table)) log(`nft: delete table ip ${cfg.table}`);
    withNetlink((host) => {
      const bridge = findLink(host, cfg.bridge);
      if (bridge?.kind === "bridge") deleteStrayVeths(host, store, cfg, bridge.index, log);
      if (state?.createdBridge === true || madeByDiyc(bridge, cfg.bridge)) {
        if (deleteLink(host, cfg.bridge)) log(`delete bridge ${cfg.bridge}`);
      } else if (bridge !== undefined) {
        log(`bridge ${cfg.bridge} was not created by diyc: left alone`);
      }
    });
    rmSync(networkStateDir(store, cfg.name), { recursive: true, force: true });
    const value = readJsonIfExists<string>(ipForwardRecord(store));
    if (value !== undefined && listNetworks(store).length === 0) {
      writeSysctl(ipForwardPath(), value);
      removeIfExists(ipForwardRecord(store));
      log(`sysctl net.ipv4.ip_forward=${value} (restored)`);
    }
  });
}

// --- attach and detach ---

function requireBridge(host: NetlinkSocket, cfg: NetworkConfig) {
  const bridge = findLink(host, cfg.bridge);
  if (bridge === undefined || bridge.kind !== "bridge") {
    throw new DiycError(`network ${cfg.name} is not set up (no bridge ${cfg.bridge}): run \`diyc network setup\` first`);
  }
  return bridge;
}

/** `--net none`: the container's own namespace with only the loopback interface, up. */
export function bringUpLoopback(pid: number, log: Log = quiet): void {
  assertOwnNetns(pid);
  const inside = openNetlinkIn(pid);
  try {
    setLinkUp(inside, getLink(inside, "lo"));
    log(`netns ${pid}: set lo up`);
  } finally {
    inside.close();
  }
}

/** Brings up lo and eth0 in the container's namespace and gives eth0 its address and default route. */
function configureContainerSide(pid: number, ip: number, net: ValidatedNetwork, log: Log): void {
  log(`open netlink socket in netns of pid ${pid}`);
  const inside = openNetlinkIn(pid);
  try {
    const lo = getLink(inside, "lo");
    setLinkUp(inside, lo);
    log(`netns ${pid}: set lo up`);
    const eth0 = getLink(inside, CONTAINER_IFNAME);
    addAddress(inside, eth0, ip, net.subnet);
    log(`netns ${pid}: add address ${formatIpv4(ip)}/${net.subnet.prefixLength} to ${CONTAINER_IFNAME}`);
    setLinkUp(inside, eth0);
    log(`netns ${pid}: set ${CONTAINER_IFNAME} up`);
    addDefaultRoute(inside, eth0, net.gateway);
    log(`netns ${pid}: add default route via ${net.cfg.gateway} dev ${CONTAINER_IFNAME}`);
  } finally {
    inside.close();
  }
}

/**
 * Connects the container whose init is `req.pid` to the network. On failure,
 * everything done so far is undone before the error is thrown.
 */
export function attachContainer(store: Store, cfg: NetworkConfig, req: AttachRequest, log: Log = quiet): Attachment {
  const net = parseNetworkConfig(cfg);
  validateName("container", req.container);
  const requested = req.ip === undefined ? undefined : validateRequestedIp(cfg, req.ip);
  assertOwnNetns(req.pid);
  return withNetlink((host) => {
    const bridge = requireBridge(host, cfg);
    // The runtime holds the name, so anything still recorded under it is left
    // over from an earlier run that died before detaching.
    detachContainer(store, cfg, req.container, log);
    const hostPorts = new HostPorts();
    // Before any claim: a port a host service has bound would have its traffic taken by our DNAT.
    for (const p of req.publish.filter((m) => m.hostPort !== ANY_PORT)) {
      const user = hostPorts.user(p.protocol, p.hostPort, p.hostIp);
      if (user !== undefined) throw new UsageError(`host port ${p.hostPort}/${p.protocol} is already in use on the host: bound by ${user}`);
    }
    const ip = claimAddress(store, { name: cfg.name, subnet: net.subnet, gateway: net.gateway }, req.container, requested, req.hostname);
    log(`lease ${ip}/${net.subnet.prefixLength} on network ${cfg.name} for ${req.container}`);
    const scope = storeScope(store);
    const veth = storeVethName(req.container, scope);
    let publish: PortMapping[] = [];
    try {
      // After the claim: the address's previous holder had released its lease
      // before we could claim it, so its pair, if still on the bridge, is stray now.
      deleteStrayVeths(host, store, cfg, bridge.index, log);
      // `-p 80`: a free host port is chosen here, one no claim and no host socket holds.
      const claimed = claimPorts(store, req.publish.map((p) => ({ ...p, container: req.container, network: cfg.name, containerIp: ip, ...storeField(store) })),
        (p) => hostPorts.isFree(p));
      publish = claimed.map(({ hostIp, hostPort, containerPort, protocol }) => ({ ...(hostIp === undefined ? {} : { hostIp }), hostPort, containerPort, protocol }));
      for (const p of publish) log(`claim host port ${formatPublish(p)} for ${req.container}`);
      createVethPair(host, veth, CONTAINER_IFNAME, req.pid, parseIpv4(ip)!);
      log(`create veth ${veth} <-> ${CONTAINER_IFNAME} in netns of pid ${req.pid}`);
      const hostEnd = getLink(host, veth);
      setMaster(host, hostEnd, bridge.index);
      log(`set master of ${veth} to ${cfg.bridge}`);
      setLinkUp(host, hostEnd);
      log(`set ${veth} up`);
      configureContainerSide(req.pid, parseIpv4(ip)!, net, log);
      if (publish.length > 0) {
        addPortRules(cfg.table, req.container, ip, publish, scope);
        log(`nft: add ${publish.length} port rule(s) for ${req.container} to table ip ${cfg.table}`);
      }
      const written = writeHostsFiles(store, cfg);
      log(`write hosts files of ${written.length} container(s) on ${cfg.name}`);
    } catch (err) {
      try {
        detachContainer(store, cfg, req.container, log);
      } catch {
        // best effort: the original error says what went wrong; detach runs again on the next attach or clean.
      }
      throw err;
    }
    return {
      container: req.container,
      network: cfg.name,
      ip,
      prefixLength: net.subnet.prefixLength,
      gateway: cfg.gateway,
      hostInterface: veth,
      containerInterface: CONTAINER_IFNAME,
      publish,
    };
  });
}

export interface DetachOptions {
  /**
   * Every process of the container is gone, so its network namespace is too
   * and the kernel deletes the veth pair with it: leave the veth alone. The
   * kernel does that teardown asynchronously, holding the rtnl lock for about
   * 16 ms (unregistering a device waits for RCU); a RTM_DELLINK of ours, or
   * any rtnetlink request, would wait for it, and that wait was most of what a
   * network added to `diyc run` (bench/results/network.md). Should something
   * outside diyc still hold the namespace, the pair outlives the container:
   * deleteStrayVeths removes it before its address is handed out again.
   */
  namespaceGone?: boolean;
}

/**
 * Deletes the veths on the network's bridge that no lease accounts for: pairs
 * whose container exited while something else (an `nsenter --net` shell, a
 * bind mount of its /proc/PID/ns/net) kept its namespace, and so the pair,
 * alive with the container's address. Runs in each attach right after it
 * claims an address (before it makes its own veth), and at clean. A port is diyc's only if its MAC is the one diyc
 * derives from its name (mac.ts); other ports on the bridge are left alone.
 */
function deleteStrayVeths(host: NetlinkSocket, store: Store, cfg: NetworkConfig, bridgeIndex: number, log: Log): void {
  // Ports first, leases second: an attach claims its lease before it creates
  // its veth, so every port listed here that belongs to a live attach has its
  // lease on disk by the time the leases are read.
  const ports = listPorts(host, bridgeIndex);
  // Leases of every store on the network: another store's container is no stray.
  const leased = new Set(listLeases(store, cfg.name).map((lease) => storeVethName(lease.container, lease.store)));
  for (const port of ports) {
    if (port.kind !== "veth" || leased.has(port.name) || port.address !== formatMac(macForName(port.name))) continue;
    // By index: should the container run again meanwhile, its new veth (same name) is not this one.
    if (deleteLinkByIndex(host, port)) log(`delete stray veth ${port.name}: no lease holds it`);
  }
}

/**
 * Disconnects a container: its veth (if its namespace has not already taken
 * it down), its port rules and claims, its lease; then refreshes the others'
 * hosts files. Safe to run twice, after a crash, or after the network is gone.
 */
export function detachContainer(store: Store, cfg: NetworkConfig, container: string, log: Log = quiet, options: DetachOptions = {}): void {
  parseNetworkConfig(cfg);
  const scope = storeScope(store);
  const veth = storeVethName(container, scope);
  // Deleting one end of a veth pair deletes both. When the container's netns
  // died first, the kernel has already removed the pair, or is removing it.
  if (!options.namespaceGone && withNetlink((host) => deleteLink(host, veth))) log(`delete veth ${veth}`);
  // Port rules exist only while their claims do (claims are made first), so a
  // container without claims needs no nft process at all: it keeps exit fast.
  // Rules are deleted before their claims are released, so a crash in between
  // leaves a claim that the next detach sees and finishes.
  if (listPortClaims(store).some((c) => c.network === cfg.name && c.container === container && ownerRoot(store, c) === store.root)) {
    const rules = deletePortRules(cfg.table, container, scope);
    if (rules > 0) log(`nft: delete ${rules} port rule(s) of ${container} from table ip ${cfg.table}`);
  }
  for (const p of releasePorts(store, cfg.name, container)) log(`release host port ${formatPublish(p)} of ${container}`);
  const freed = releaseLeases(store, cfg.name, container);
  for (const ip of freed) log(`release lease ${ip} of ${container}`);
  if (freed.length > 0 && existsSync(networkStateDir(store, cfg.name))) {
    const written = writeHostsFiles(store, cfg);
    log(`write hosts files of ${written.length} container(s) on ${cfg.name}`);
  }
}

/**
 * Detaches `container` from every network of the store where it still holds a
 * lease or a port claim: for a container whose container.json (which names
 * its network) was never written, or is gone. Also sweeps claim files that
 * dead claimers left. Idempotent.
 */
export function detachEverywhere(store: Store, container: string, log: Log = quiet): void {
  const mine = (record: { container: string; store?: string }) => record.container === container && ownerRoot(store, record) === store.root;
  const claimed = new Set(listPortClaims(store).filter(mine).map((c) => c.network));
  sweepStaleClaims(portsDir(store));
  for (const cfg of listNetworks(store)) {
    sweepStaleClaims(leasesDir(store, cfg.name));
    if (claimed.has(cfg.name) || listLeases(store, cfg.name).some(mine)) {
      detachContainer(store, cfg, container, log);
    }
  }
}

/**
 * Detaches the containers that hold a lease but are gone, by the caller's
 * definition of alive. Returns the leases freed.
 */
export function reconcileNetwork(store: Store, cfg: NetworkConfig, isAlive: (lease: Lease & { store: string }) => boolean, log: Log = quiet): Lease[] {
  const dead = listLeases(store, cfg.name).filter((l) => !isAlive({ ...l, store: ownerRoot(store, l) }));
  for (const lease of dead) detachContainer(storeAt(store, ownerRoot(store, lease)), cfg, lease.container, log);
  return dead;
}

