// MAC addresses diyc chooses instead of letting the kernel pick random ones.
//
// Why: neighbours cache IP → MAC (ARP) for seconds to minutes. A random MAC
// changes under a cached entry whenever the kernel picks again, and the peer
// sends into the void until its entry expires:
//   - the bridge, created without an address, takes the lowest MAC of its
//     ports, so the gateway's MAC changed as containers came and went;
//   - a container's eth0, random each run, made an address leased again
//     unreachable from peers still caching the previous holder's MAC.
// So the bridge gets a fixed address derived from its name, and eth0 one
// derived from its IPv4 address (Docker's 02:42:<ip>): a new holder of an
// address answers to the MAC every cache already has.
//
// All are locally administered unicast (first byte 0x02): they can never
// clash with a vendor's globally assigned MAC. Name-derived ones never have
// 0x42 as second byte, so they cannot clash with an address-derived one.

import { ipv4Bytes } from "./ipv4";

export const MAC_LENGTH = 6;

/** 02:42:a:b:c:d for a.b.c.d: unique on the network as long as the address is. */
export function macForIpv4(ip: number): Uint8Array {
  const mac = new Uint8Array(MAC_LENGTH);
  mac[0] = 0x02;
  mac[1] = 0x42;
  mac.set(ipv4Bytes(ip), 2);
  return mac;
}

/** 02 + five bytes of SHA-256(seed): stable across runs and hosts for one name. */
export function macForName(seed: string): Uint8Array {
  const hash = new Bun.CryptoHasher("sha256").update(seed).digest();
  const mac = new Uint8Array(MAC_LENGTH);
  mac.set(hash.subarray(0, MAC_LENGTH));
  mac[0] = 0x02;
  // 02:42:… is the address-derived range (macForIpv4).
  if (mac[1] === 0x42) mac[1] = 0x43;
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
}
