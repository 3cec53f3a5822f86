// The bridge: a virtual switch on the host. Every container's host-side veth is
// one of its ports, and the bridge itself holds the gateway address, so the
// host routes to the subnet through it (see docs/networking.md).

import { Errno } from "../linux/errors";
import { findLink, setAddressRequest, type LinkInfo } from "./link";
import { formatMac, macForName } from "./mac";
import {
  attrBytes,
  attrNested,
  attrString,
  encodeAttrs,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  ifinfomsg,
  NetlinkError,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_NEWLINK,
  type NetlinkSocket,
  type Request,
} from "./netlink";

export function createBridgeRequest(name: string): Request {
  return {
    type: RTM_NEWLINK,
    // EXCL: we must know whether we created it, so clean never deletes a
    // bridge that someone else made.
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: encodeAttrs(ifinfomsg(), [
      attrString(IFLA_IFNAME, name),
      // A bridge without an address of its own takes the lowest MAC among its
      // ports and changes it as ports come and go, which leaves every
      // container with a stale gateway entry in its ARP cache. One set here
      // (NET_ADDR_SET) is never replaced by a port's.
      attrBytes(IFLA_ADDRESS, macForName(name)),
      attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, "bridge")]),
    ]),
    subject: name,
  };
}

/**
 * Creates the bridge unless it exists. An existing link of that name that is
 * not a bridge is an error: attaching containers to it would go wrong quietly.
 * An existing bridge without its fixed MAC (made by a diyc before bridges had
 * one) gets it: its gateway MAC changes this once, then never again.
 */
export function ensureBridge(sock: NetlinkSocket, name: string): { link: LinkInfo; created: boolean; readdressed: boolean } {
  const existing = findLink(sock, name);
  if (existing !== undefined) {
    if (existing.kind !== "bridge") throw new NetlinkError("RTM_NEWLINK", Errno.EEXIST, `${name} (exists and is not a bridge)`);
    const mac = macForName(name);
    if (existing.address === formatMac(mac)) return { link: existing, created: false, readdressed: false };
    sock.request(setAddressRequest(existing, mac));
    return { link: { ...existing, address: formatMac(mac) }, created: false, readdressed: true };
  }
  sock.request(createBridgeRequest(name));
  const link = findLink(sock, name);
  if (link === undefined) throw new NetlinkError("RTM_GETLINK", Errno.ENODEV, name);
  return { link, created: true, readdressed: false };
}
