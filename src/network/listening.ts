// What the host already uses, read from /proc (diyc runs in the host's network
// namespace): sockets bound to a port, and routes. diyc refuses to publish a
// port a host service has bound (its DNAT rule would steal the service's
// traffic) and to set up a subnet the host already routes (both would break),
// as docker refuses a pool that overlaps.
//
//   /proc/net/tcp, tcp6   one line per socket; state 0A is LISTEN
//   /proc/net/udp, udp6   one line per socket; any bound one holds its port
//   /proc/net/route       IPv4 routes: interface, destination, mask (hex, host order)

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { formatIpv4, formatSubnet, maskOf, type Subnet } from "./ipv4";
import type { Protocol } from "./ports";

const TCP_LISTEN = "0A";

export interface BoundSocket {
  address: string;
  port: number;
  /** The wildcard address (0.0.0.0 or ::): every local address. */
  wildcard: boolean;
  inode: string;
}

/** /proc/net's addresses are the kernel's 32-bit words printed in host (little-endian) order. */
function littleEndianWord(hex: string): number {
  return Number.parseInt(hex.match(/../g)!.reverse().join(""), 16) >>> 0;
}

function formatAddress(hex: string): string {
  if (hex.length === 8) return formatIpv4(littleEndianWord(hex));
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const word = littleEndianWord(hex.slice(i, i + 8));
    groups.push((word >>> 16).toString(16), (word & 0xffff).toString(16));
  }
  const text = groups.join(":");
  return `[${text === "0:0:0:0:0:0:0:0" ? "::" : text}]`;
}

function readProcNet(file: string): string[] {
  try {
    return readFileSync(`/proc/net/${file}`, "utf8").split("\n").slice(1).filter((l) => l.trim() !== "");
  } catch (error) {
    // No IPv6 in this kernel: nothing bound there. Any other failure is the caller's to hear of.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** The sockets of /proc/net/{tcp,udp}[6] lines (header removed) that hold a port: TCP listeners, every UDP socket. */
export function parseBoundSockets(protocol: Protocol, lines: string[]): BoundSocket[] {
  const sockets: BoundSocket[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const [addressHex, portHex] = (fields[1] ?? "").split(":");
    if (!addressHex || !portHex) continue;
    if (protocol === "tcp" && fields[3] !== TCP_LISTEN) continue;
    sockets.push({
      address: formatAddress(addressHex),
      port: Number.parseInt(portHex, 16),
      wildcard: /^0+$/.test(addressHex),
      inode: fields[9] ?? "0",
    });
  }
  return sockets;
}

function boundSockets(protocol: Protocol): BoundSocket[] {
  return parseBoundSockets(protocol, [...readProcNet(protocol), ...readProcNet(`${protocol}6`)]);
}

/** "pid 1234 (python3)" for the process holding the socket, if it can be found. */
function socketOwner(inode: string): string | undefined {
  if (inode === "0") return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) {
          return `pid ${pid} (${readFileSync(`/proc/${pid}/comm`, "utf8").trim()})`;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/**
 * The host's bound sockets, read from /proc/net once per protocol: for the
 * many ports one attach asks about (each -p, and the search for a free one).
 * A port published on every address (no `hostIp`) collides with a socket on
 * any address; one published on an address, with a socket on it or on the
 * wildcard.
 */
export class HostPorts {
  private readonly read = new Map<Protocol, BoundSocket[]>();

  /** Whether a published port would collide with a host socket (cheap: no owner lookup). */
  isFree(p: { protocol: Protocol; hostPort: number; hostIp?: string }): boolean {
    return this.socketAt(p.protocol, p.hostPort, p.hostIp) === undefined;
  }

  /** Who has bound it, or undefined: "127.0.0.1:18095, pid 1234 (python3)" (the owner costs a walk of /proc). */
  user(protocol: Protocol, port: number, hostIp?: string): string | undefined {
    const socket = this.socketAt(protocol, port, hostIp);
    if (socket === undefined) return undefined;
    const owner = socketOwner(socket.inode);
    return `${socket.address}:${socket.port}${owner === undefined ? "" : `, ${owner}`}`;
  }

  private socketAt(protocol: Protocol, port: number, hostIp?: string): BoundSocket | undefined {
    if (!this.read.has(protocol)) this.read.set(protocol, boundSockets(protocol));
    return this.read.get(protocol)!.find((s) => s.port === port && (hostIp === undefined || s.wildcard || s.address === hostIp));
  }
}

export interface HostRoute {
  device: string;
  subnet: Subnet;
}

/** The host's IPv4 routes but the default one (which covers everything and says nothing). */
export function hostRoutes(): HostRoute[] {
  return parseRoutes(readProcNet("route"));
}

/** /proc/net/route lines (header removed) → routes, the default one left out. */
export function parseRoutes(lines: string[]): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of lines) {
    const [device, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (!device || !destination || !mask) continue;
    const maskValue = littleEndianWord(mask);
    if (maskValue === 0) continue;
    const prefixLength = 32 - countTrailingZeros(maskValue);
    routes.push({ device, subnet: { network: littleEndianWord(destination), prefixLength } });
  }
  return routes;
}

function countTrailingZeros(mask: number): number {
  let n = 0;
  while (n < 32 && ((mask >>> n) & 1) === 0) n++;
  return n;
}

/** Whether two subnets share any address: the shorter prefix decides. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const mask = maskOf(Math.min(a.prefixLength, b.prefixLength));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

export function describeRoute(route: HostRoute): string {
  return `${formatSubnet(route.subnet)} dev ${route.device}`;
}
