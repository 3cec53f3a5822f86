// Published ports: `-p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]`, and who holds
// which host port.
//
//   REGISTRY/.ports/tcp-8080     {"container":"web","network":"diyc0",...}
//
// A host port is a host-wide resource, so claims live beside the networks, not
// inside one, in the registry every store shares: publishing 8080 twice fails
// whichever diyc networks and stores the two containers are in. A port a host
// service has bound is refused too (listening.ts HostPorts). Claims are taken like leases (link(2) of a complete file,
// see ipam.ts), so concurrent runs cannot both win a port. The names start
// with "." so they can never clash with a network's directory.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../linux/errors";
import type { Store } from "../store/store";
import { readDirIfExists, readJsonIfExists } from "../store/atomic";
import { claimExclusive, removeIfExists, sweepStaleClaims } from "./claim";
import { parseIpv4 } from "./ipv4";
import { ownerRoot } from "./ipam";

export type Protocol = "tcp" | "udp";

/** A host port of 0: "any free one", chosen at attach time (`-p 80`, `-p 127.0.0.1::80`). */
export const ANY_PORT = 0;

export interface PortMapping {
  /** The host address the port is published on; undefined for every local address. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** A port claim as stored: the mapping, whose it is, and where it leads. */
export interface PortClaim extends PortMapping {
  container: string;
  network: string;
  containerIp: string;
  /** The container's store root; absent for the registry's home store (ipam.ts homeStoreRoot). */
  store?: string;
}

function parsePort(text: string, spec: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(`invalid port ${JSON.stringify(text)} in -p ${spec}: use a number from 1 to 65535`);
  }
  return port;
}

const PUBLISH_FORMS = "[HOSTIP:]HOSTPORT:CTRPORT, CTRPORT or HOSTIP::CTRPORT, with /tcp or /udp";

/**
 * Parses `[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]`, `CTRPORT` and
 * `HOSTIP::CTRPORT` (docker's forms); UsageError on anything else. A host
 * port left out is 0: a free one is chosen when the container is attached.
 */
export function parsePublish(spec: string): PortMapping {
  const slash = spec.split("/");
  if (slash.length > 2) throw new UsageError(`invalid -p ${spec}: use ${PUBLISH_FORMS}`);
  const protocol = slash[1] ?? "tcp";
  if (protocol !== "tcp" && protocol !== "udp") {
    throw new UsageError(`invalid protocol ${JSON.stringify(protocol)} in -p ${spec}: use tcp or udp`);
  }
  const parts = slash[0]!.split(":");
  if (parts.length > 3) throw new UsageError(`invalid -p ${spec}: use ${PUBLISH_FORMS}`);
  if (parts.length === 1) return { hostPort: ANY_PORT, containerPort: parsePort(parts[0]!, spec), protocol };
  const [hostIp, hostPortText, containerPort] = parts.length === 3 ? parts : [undefined, ...parts];
  const hostPort = hostIp !== undefined && hostPortText === "" ? String(ANY_PORT) : hostPortText;
  if (hostIp !== undefined && parseIpv4(hostIp) === undefined) {
    throw new UsageError(`invalid host address ${JSON.stringify(hostIp)} in -p ${spec}: use an IPv4 address`);
  }
  return {
    // 0.0.0.0 means what no address means: every local address.
    ...(hostIp !== undefined && hostIp !== "0.0.0.0" ? { hostIp } : {}),
    hostPort: hostPort === String(ANY_PORT) ? ANY_PORT : parsePort(hostPort!, spec),
    containerPort: parsePort(containerPort!, spec),
    protocol,
  };
}

export function formatPublish(p: PortMapping): string {
  return `${p.hostIp === undefined ? "" : p.hostIp + ":"}${p.hostPort}:${p.containerPort}/${p.protocol}`;
}

export function portsDir(store: Store): string {
  return join(store.networkDir, ".ports");
}

function claimName(p: { protocol: Protocol; hostPort: number }): string {
  return `${p.protocol}-${p.hostPort}`;
}

export function listPortClaims(store: Store): PortClaim[] {
  const dir = portsDir(store);
  const claims: PortClaim[] = [];
  for (const name of readDirIfExists(dir)) {
    if (!/^(tcp|udp)-\d+$/.test(name)) continue;
    // undefined: released between readdir and read.
    const claim = readJsonIfExists<PortClaim>(join(dir, name));
    if (claim !== undefined) claims.push(claim);
  }
  return claims;
}

/**
 * Claims every host port of `claims`, all or nothing: on a conflict the ones
 * already taken are given back and a UsageError names the holder.
 */
export function claimPorts(store: Store, claims: PortClaim[], isFree: (p: PortMapping) => boolean = () => true): PortClaim[] {
  const dir = portsDir(store);
  sweepStaleClaims(dir); // left by a diyc killed in the middle of a claim
  const taken: PortClaim[] = [];
  for (const wanted of claims) {
    const claim = wanted.hostPort === ANY_PORT ? claimFreePort(dir, wanted, isFree) : wanted;
    if (claim !== undefined && (claim !== wanted || claimExclusive(dir, claimName(claim), JSON.stringify(claim) + "\n"))) {
      taken.push(claim);
      continue;
    }
    if (claim === undefined) {
      releaseClaims(store, taken);
      throw new UsageError(`no free host port for ${wanted.containerPort}/${wanted.protocol} in ${EPHEMERAL.first}-${EPHEMERAL.last}`);
    }
    releaseClaims(store, taken);
    const holder = listPortClaims(store).find((c) => c.protocol === claim.protocol && c.hostPort === claim.hostPort);
    const otherStore = holder?.store !== undefined && holder.store !== store.root ? ` of store ${holder.store}` : "";
    throw new UsageError(
      `host port ${claim.hostPort}/${claim.protocol} is already published by container ${holder?.container ?? "(unknown)"}${otherStore}` +
        (holder === undefined ? "" : ` on network ${holder.network}`),
    );
  }
  return taken;
}

/**
 * The range docker picks free host ports from (the kernel's default
 * ip_local_port_range): high enough to stay clear of well-known services.
 */
const EPHEMERAL = { first: 32768, last: 60999 };

/** The first port of the range that no diyc claim and no host socket holds, claimed. */
function claimFreePort(dir: string, wanted: PortClaim, isFree: (p: PortMapping) => boolean): PortClaim | undefined {
  for (let port = EPHEMERAL.first; port <= EPHEMERAL.last; port++) {
    const claim = { ...wanted, hostPort: port };
    if (existsSync(join(dir, claimName(claim))) || !isFree(claim)) continue;
    if (claimExclusive(dir, claimName(claim), JSON.stringify(claim) + "\n")) return claim;
  }
  return undefined;
}

function releaseClaims(store: Store, claims: PortClaim[]): void {
  for (const c of claims) removeIfExists(join(portsDir(store), claimName(c)));
}

/** Gives back the host ports `container` of this store holds on `network`; returns them. */
export function releasePorts(store: Store, network: string, container: string): PortClaim[] {
  const mine = listPortClaims(store).filter((c) => c.container === container && c.network === network && ownerRoot(store, c) === store.root);
  releaseClaims(store, mine);
  return mine;
}
