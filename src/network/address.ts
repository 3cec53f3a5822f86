// Addresses and routes: an IPv4 address on a link (RTM_NEWADDR) and the
// default route through the gateway (RTM_NEWROUTE). Used for the bridge on the
// host and for eth0 inside a container, through whichever socket is passed.

import { Errno } from "../linux/errors";
import { broadcastOf, formatIpv4, ipv4Bytes, type Subnet } from "./ipv4";
import {
  attrBytes,
  attrU32,
  encodeAttrs,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_LOCAL,
  ifaddrmsg,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTA_GATEWAY,
  RTA_OIF,
  RTM_NEWADDR,
  RTM_NEWROUTE,
  rtmsg,
  type NetlinkSocket,
  type Request,
} from "./netlink";

export function addAddressRequest(link: { name: string; index: number }, address: number, subnet: Subnet): Request {
  return {
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: encodeAttrs(ifaddrmsg({ prefixLength: subnet.prefixLength, index: link.index }), [
      // On a broadcast link, LOCAL is our address and ADDRESS the same; the
      // kernel derives the connected subnet route from it and the prefix.
      attrBytes(IFA_LOCAL, ipv4Bytes(address)),
      attrBytes(IFA_ADDRESS, ipv4Bytes(address)),
      attrBytes(IFA_BROADCAST, ipv4Bytes(broadcastOf(subnet))),
    ]),
    subject: `${formatIpv4(address)}/${subnet.prefixLength} dev ${link.name}`,
  };
}

export function addDefaultRouteRequest(link: { name: string; index: number }, gateway: number): Request {
  return {
    type: RTM_NEWROUTE,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: encodeAttrs(rtmsg({ dstLength: 0 }), [attrBytes(RTA_GATEWAY, ipv4Bytes(gateway)), attrU32(RTA_OIF, link.index)]),
    subject: `default via ${formatIpv4(gateway)} dev ${link.name}`,
  };
}

/**
 * Adds the address; returns false if the link already had it, so setting up
 * the bridge twice is harmless.
 */
export function addAddress(sock: NetlinkSocket, link: { name: string; index: number }, address: number, subnet: Subnet): boolean {
  return sock.requestUnless(addAddressRequest(link, address, subnet), Errno.EEXIST) !== undefined;
}

export function addDefaultRoute(sock: NetlinkSocket, link: { name: string; index: number }, gateway: number): void {
  sock.request(addDefaultRouteRequest(link, gateway));
}
