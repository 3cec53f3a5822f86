// The bridge: a virtual switch on the host. Every container's host-side veth is
// one of its ports, and the bridge itself holds the gateway address, so the
// host routes to the subnet through it (see docs/networking.md).

import { Errno } from "../linux/errors";
import { findLink, type LinkInfo } from "./link";
import {
  attrNested,
  attrString,
  encodeAttrs,
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
      attrNested(IFLA_LINKINFO, [attrString(IFLA_INFO_KIND, "bridge")]),
    ]),
    subject: name,
  };
}

/**
 * Creates the bridge unless it exists. An existing link of that name that is
 * not a bridge is an error: attaching containers to it would go wrong quietly.
 */
export function ensureBridge(sock: NetlinkSocket, name: string): { link: LinkInfo; created: boolean } {
  const existing = findLink(sock, name);
  if (existing !== undefined) {
    if (existing.kind !== "bridge") throw new NetlinkError("RTM_NEWLINK", Errno.EEXIST, `${name} (exists and is not a bridge)`);
    return { link: existing, created: false };
  }
  sock.request(createBridgeRequest(name));
  const link = findLink(sock, name);
  if (link === undefined) throw new NetlinkError("RTM_GETLINK", Errno.ENODEV, name);
  return { link, created: true };
}
