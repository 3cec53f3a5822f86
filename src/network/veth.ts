// The veth pair: a virtual cable. One end stays on the host as a bridge port;
// the other is created directly inside the container's network namespace as
// eth0, by giving the kernel the container's pid (IFLA_NET_NS_PID) on the
// peer. Creating it there, instead of creating it on the host and moving it,
// means no host-side "eth0" ever exists, even for an instant, and two
// containers starting at once cannot collide on the peer's name.

import { MAX_LINK_NAME } from "./link";
import { macForIpv4, macForName } from "./mac";
import {
  attrBytes,
  attrNested,
  attrString,
  attrU32,
  encodeAttrs,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_NET_NS_PID,
  ifinfomsg,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_NEWLINK,
  VETH_INFO_PEER,
  type NetlinkSocket,
  type Request,
} from "./netlink";

/** The container end's name inside its namespace. */
export const CONTAINER_IFNAME = "eth0";

/**
 * The host end's name: "veth" + a readable piece of the container name + a
 * hash of the whole name, within IFNAMSIZ. The hash keeps long names that
 * share a prefix apart; the readable piece helps whoever reads `ip link`.
 */
export function hostVethName(container: string): string {
  return storeVethName(container, undefined);
}

/**
 * hostVethName for a container of any store: two stores sharing a bridge may
 * both have a container "web", so the store's root (ipam.ts storeScope; none
 * for the registry's home store) goes into the hash.
 */
export function storeVethName(container: string, storeScope: string | undefined): string {
  const hash = new Bun.CryptoHasher("sha256").update(storeScope === undefined ? container : `${storeScope}\0${container}`).digest("hex").slice(0, 6);
  const readable = container.replace(/[^a-zA-Z0-9]/g, "").slice(0, MAX_LINK_NAME - "veth".length - hash.length);
  return `veth${readable}${hash}`;
}

/**
 * The pair, with both MACs chosen here rather than random (see mac.ts): the
 * peer's is derived from the container's address, so a container that gets an
 * address again answers to the MAC its neighbours already cache; the host
 * end's from its name, so it is the same each time too.
 */
export function createVethRequest(hostName: string, peerName: string, peerPid: number, peerIp: number): Request {
  // VETH_INFO_PEER's payload is a whole ifinfomsg followed by the peer's own
  // attributes, as if it were a second RTM_NEWLINK.
  const peer = encodeAttrs(ifinfomsg(), [
    attrString(IFLA_IFNAME, peerName),
    attrBytes(IFLA_ADDRESS, macForIpv4(peerIp)),
    attrU32(IFLA_NET_NS_PID, peerPid),
  ]);
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: encodeAttrs(ifinfomsg(), [
      attrString(IFLA_IFNAME, hostName),
      attrBytes(IFLA_ADDRESS, macForName(hostName)),
      attrNested(IFLA_LINKINFO, [
        attrString(IFLA_INFO_KIND, "veth"),
        attrNested(IFLA_INFO_DATA, [{ type: VETH_INFO_PEER, data: peer }]),
      ]),
    ]),
    subject: hostName,
  };
}

export function createVethPair(sock: NetlinkSocket, hostName: string, peerName: string, peerPid: number, peerIp: number): void {
  sock.request(createVethRequest(hostName, peerName, peerPid, peerIp));
}
