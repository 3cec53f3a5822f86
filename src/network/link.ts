// Links by name: look one up, bring it up, enslave it to a bridge, delete it.
// The request builders are pure (unit-tested byte for byte); the verbs send
// them over a NetlinkSocket, which decides the network namespace.

import { Errno } from "../linux/errors";
import { formatMac } from "./mac";
import {
  attrBytes,
  attrString,
  attrText,
  attrU32,
  decodeAttrs,
  encodeAttrs,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  ifinfomsg,
  NetlinkError,
  NLM_F_DUMP,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  type NetlinkSocket,
  type Request,
} from "./netlink";

/** IFNAMSIZ is 16 with the NUL: the kernel refuses longer names with EINVAL. */
export const MAX_LINK_NAME = 15;

export interface LinkInfo {
  name: string;
  index: number;
  flags: number;
  /** IFLA_INFO_KIND: "bridge", "veth", ...; undefined for plain devices such as lo. */
  kind?: string;
  /** The bridge's ifindex, when enslaved. */
  master?: number;
  /** The MAC address, aa:bb:cc:dd:ee:ff (absent for links without one). */
  address?: string;
}

export function getLinkRequest(name: string): Request {
  return { type: RTM_GETLINK, flags: 0, body: encodeAttrs(ifinfomsg(), [attrString(IFLA_IFNAME, name)]), subject: name };
}

/** A dump of the links enslaved to `masterIndex` (the kernel filters on IFLA_MASTER). */
export function listPortsRequest(masterIndex: number): Request {
  return { type: RTM_GETLINK, flags: NLM_F_DUMP, body: encodeAttrs(ifinfomsg(), [attrU32(IFLA_MASTER, masterIndex)]), subject: `ports of ifindex ${masterIndex}` };
}

export function setLinkUpRequest(link: { name: string; index: number }): Request {
  return {
    type: RTM_NEWLINK,
    flags: 0,
    body: ifinfomsg({ index: link.index, flags: IFF_UP, change: IFF_UP }),
    subject: link.name,
  };
}

export function setMasterRequest(link: { name: string; index: number }, masterIndex: number): Request {
  return {
    type: RTM_NEWLINK,
    flags: 0,
    body: encodeAttrs(ifinfomsg({ index: link.index }), [attrU32(IFLA_MASTER, masterIndex)]),
    subject: link.name,
  };
}

/** Sets a link's MAC address (IFLA_ADDRESS) by index. */
export function setAddressRequest(link: { name: string; index: number }, mac: Uint8Array): Request {
  return {
    type: RTM_NEWLINK,
    flags: 0,
    body: encodeAttrs(ifinfomsg({ index: link.index }), [attrBytes(IFLA_ADDRESS, mac)]),
    subject: link.name,
  };
}

export function deleteLinkRequest(name: string): Request {
  return { type: RTM_DELLINK, flags: 0, body: encodeAttrs(ifinfomsg(), [attrString(IFLA_IFNAME, name)]), subject: name };
}

/** Deletes by index: a later link that took the same name is never hit. */
export function deleteLinkByIndexRequest(link: { name: string; index: number }): Request {
  return { type: RTM_DELLINK, flags: 0, body: ifinfomsg({ index: link.index }), subject: link.name };
}

/** Decodes an RTM_NEWLINK message (a GETLINK answer). */
export function decodeLink(payload: Uint8Array): LinkInfo {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const attrs = decodeAttrs(payload.subarray(16));
  const linkinfo = attrs.get(IFLA_LINKINFO);
  const master = attrs.get(IFLA_MASTER);
  const address = attrs.get(IFLA_ADDRESS);
  return {
    name: attrText(attrs.get(IFLA_IFNAME)) ?? "",
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    kind: linkinfo === undefined ? undefined : attrText(decodeAttrs(linkinfo).get(IFLA_INFO_KIND)),
    master: master === undefined ? undefined : new DataView(master.buffer, master.byteOffset).getUint32(0, true),
    address: address === undefined ? undefined : formatMac(address),
  };
}

/** The link called `name` in the socket's namespace, or undefined if there is none. */
export function findLink(sock: NetlinkSocket, name: string): LinkInfo | undefined {
  const reply = sock.requestUnless(getLinkRequest(name), Errno.ENODEV)?.[0];
  return reply === undefined ? undefined : decodeLink(reply.payload);
}

/** Like findLink, but a missing link is an error naming it. */
export function getLink(sock: NetlinkSocket, name: string): LinkInfo {
  const link = findLink(sock, name);
  if (link === undefined) throw new NetlinkError("RTM_GETLINK", Errno.ENODEV, name);
  return link;
}

/** The ports of a bridge. */
export function listPorts(sock: NetlinkSocket, masterIndex: number): LinkInfo[] {
  // Filtered again here: the filter is the kernel's courtesy, not a promise.
  return sock.request(listPortsRequest(masterIndex)).map((m) => decodeLink(m.payload)).filter((link) => link.master === masterIndex);
}

export function setLinkUp(sock: NetlinkSocket, link: { name: string; index: number }): void {
  sock.request(setLinkUpRequest(link));
}

export function setMaster(sock: NetlinkSocket, link: { name: string; index: number }, masterIndex: number): void {
  sock.request(setMasterRequest(link, masterIndex));
}

/** Deletes a link; returns false if it was already gone (deleting is idempotent). */
export function deleteLink(sock: NetlinkSocket, name: string): boolean {
  return sock.requestUnless(deleteLinkRequest(name), Errno.ENODEV) !== undefined;
}

/** Deletes that very link (by its index); returns false if it was already gone. */
export function deleteLinkByIndex(sock: NetlinkSocket, link: { name: string; index: number }): boolean {
  return sock.requestUnless(deleteLinkByIndexRequest(link), Errno.ENODEV) !== undefined;
}
