// IPv4 addresses and subnets as plain numbers. Pure: used by IPAM, the
// validation of `-i/--ip`, nftables rules and the netlink address encoder.

import { UsageError } from "../linux/errors";

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "172.16.0.30" → 0xac10001e; undefined if it is not a dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (m === null) return undefined;
  let n = 0;
  for (const part of m.slice(1)) {
    // Leading zeros are refused: some tools read them as octal.
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Network byte order, as netlink's IFA_LOCAL and RTA_GATEWAY carry it. */
export function ipv4Bytes(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

export interface Subnet {
  /** The network address, host bits zero. */
  network: number;
  prefixLength: number;
}

/** "172.16.0.0/24" → subnet; UsageError when malformed or when host bits are set. */
export function parseSubnet(cidr: string): Subnet {
  const [addr, prefix, extra] = cidr.split("/");
  const network = addr === undefined ? undefined : parseIpv4(addr);
  const prefixLength = prefix !== undefined && /^\d{1,2}$/.test(prefix) ? Number(prefix) : NaN;
  // /31 and /32 leave no room for a gateway plus a container.
  if (network === undefined || extra !== undefined || !(prefixLength >= 8 && prefixLength <= 30)) {
    throw new UsageError(`invalid subnet ${JSON.stringify(cidr)}: use A.B.C.D/N with N between 8 and 30`);
  }
  if ((network & ~maskOf(prefixLength)) >>> 0 !== 0) {
    throw new UsageError(`invalid subnet ${cidr}: host bits are set (did you mean ${formatSubnet({ network: (network & maskOf(prefixLength)) >>> 0, prefixLength })}?)`);
  }
  return { network, prefixLength };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIpv4(s.network)}/${s.prefixLength}`;
}

export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function broadcastOf(s: Subnet): number {
  return (s.network | ~maskOf(s.prefixLength)) >>> 0;
}

export function contains(s: Subnet, ip: number): boolean {
  return (ip & maskOf(s.prefixLength)) >>> 0 === s.network;
}
