// rtnetlink: the kernel's API for links, addresses and routes, spoken from
// TypeScript over a NETLINK_ROUTE socket opened through bun:ffi.
//
// Two halves, kept apart on purpose:
//   - a pure encoder/decoder (nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, rtattr),
//     which unit tests check byte for byte without root;
//   - NetlinkSocket, which sends one request at a time with NLM_F_ACK and turns
//     the kernel's NLMSG_ERROR answer into a NetlinkError naming the operation,
//     the errno and the link.
//
// Every request asks for an ACK, so the kernel always answers, and we read
// answers until the one carrying our sequence number: an error can never be
// silently lost, and a reply to an earlier request can never be mistaken for
// this one. All multi-byte fields are in host byte order (little-endian on the
// machines diyc runs on), except IPv4 addresses, which are network order bytes.

import { DiycError, errnoName, errnoText } from "../linux/errors";
import { check, symbols } from "../linux/libc";

// --- constants from <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h> ---

export const AF_INET = 2;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
/** NLM_F_ROOT | NLM_F_MATCH: every object of the kind, in as many parts as it takes, then NLMSG_DONE. */
export const NLM_F_DUMP = 0x300;
export const NLM_F_CREATE = 0x400;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

const messageNames: Record<number, string> = {
  [RTM_NEWLINK]: "RTM_NEWLINK",
  [RTM_DELLINK]: "RTM_DELLINK",
  [RTM_GETLINK]: "RTM_GETLINK",
  [RTM_NEWADDR]: "RTM_NEWADDR",
  [RTM_NEWROUTE]: "RTM_NEWROUTE",
};

export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_PID = 19;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_BROADCAST = 4;

export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RTN_UNICAST = 1;

const NLMSG_HDRLEN = 16;

/** Netlink pads every header and attribute to 4 bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

// --- attributes ---

/** One rtattr: type plus payload bytes, or nested attributes. */
export interface Attr {
  type: number;
  data: Uint8Array | Attr[];
}

export function attrString(type: number, value: string): Attr {
  // NUL-terminated, as iproute2 sends names: the kernel accepts both, and the
  // terminator makes the length unambiguous.
  return { type, data: new TextEncoder().encode(value + "\0") };
}

export function attrU32(type: number, value: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  return { type, data };
}

export function attrBytes(type: number, data: Uint8Array): Attr {
  return { type, data };
}

export function attrNested(type: number, children: Attr[]): Attr {
  return { type, data: children };
}

function payloadLength(attr: Attr): number {
  return Array.isArray(attr.data) ? attrsLength(attr.data) : attr.data.length;
}

function attrsLength(attrs: Attr[]): number {
  return attrs.reduce((n, a) => n + align4(4 + payloadLength(a)), 0);
}

function writeAttrs(view: DataView, bytes: Uint8Array, offset: number, attrs: Attr[]): number {
  for (const attr of attrs) {
    const len = 4 + payloadLength(attr);
    view.setUint16(offset, len, true);
    view.setUint16(offset + 2, attr.type, true);
    if (Array.isArray(attr.data)) writeAttrs(view, bytes, offset + 4, attr.data);
    else bytes.set(attr.data, offset + 4);
    offset += align4(len);
  }
  return offset;
}

/**
 * Bytes for attributes laid out after a fixed header, e.g. the ifinfomsg that
 * VETH_INFO_PEER carries as its own payload before the peer's attributes.
 */
export function encodeAttrs(header: Uint8Array, attrs: Attr[]): Uint8Array {
  const bytes = new Uint8Array(align4(header.length) + attrsLength(attrs));
  bytes.set(header, 0);
  writeAttrs(new DataView(bytes.buffer), bytes, align4(header.length), attrs);
  return bytes;
}

// --- fixed headers ---

export function ifinfomsg(fields: { index?: number; flags?: number; change?: number } = {}): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, 0); // ifi_family AF_UNSPEC: links are not per address family
  v.setInt32(4, fields.index ?? 0, true);
  v.setUint32(8, fields.flags ?? 0, true);
  v.setUint32(12, fields.change ?? 0, true);
  return b;
}

export function ifaddrmsg(fields: { prefixLength: number; index: number }): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, fields.prefixLength);
  v.setUint8(2, 0); // flags
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, fields.index, true);
  return b;
}

export function rtmsg(fields: { dstLength: number }): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = AF_INET;
  b[1] = fields.dstLength;
  b[4] = RT_TABLE_MAIN;
  b[5] = RTPROT_BOOT;
  b[6] = RT_SCOPE_UNIVERSE;
  b[7] = RTN_UNICAST;
  return b;
}

// --- messages ---

/** A request before it gets a sequence number: what, with which flags, on what link. */
export interface Request {
  type: number;
  flags: number;
  body: Uint8Array;
  /** For the error message: the link or address the request is about. */
  subject: string;
}

/** The whole datagram: nlmsghdr, then the body (fixed header + attributes). */
export function encodeMessage(req: Request, seq: number): Uint8Array {
  const len = NLMSG_HDRLEN + req.body.length;
  const bytes = new Uint8Array(len);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, req.type, true);
  v.setUint16(6, req.flags | NLM_F_REQUEST | NLM_F_ACK, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, 0, true); // nlmsg_pid 0: the kernel fills in our port id
  bytes.set(req.body, NLMSG_HDRLEN);
  return bytes;
}

export function messageName(type: number): string {
  return messageNames[type] ?? `netlink message ${type}`;
}

/** A message as read back from the kernel. */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

/** Splits a datagram into its messages. */
export function decodeMessages(bytes: Uint8Array): Message[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Message[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= bytes.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > bytes.length) break;
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      payload: bytes.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Parses attributes into type → payload (the last one wins for repeated types). */
export function decodeAttrs(bytes: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off + 4 <= bytes.length) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > bytes.length) break;
    // The top bits of the type are NLA_F_NESTED / NLA_F_NET_BYTEORDER flags.
    out.set(v.getUint16(off + 2, true) & 0x3fff, bytes.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** A NUL-terminated string attribute's text. */
export function attrText(data: Uint8Array | undefined): string | undefined {
  if (data === undefined) return undefined;
  const end = data.indexOf(0);
  return new TextDecoder().decode(end === -1 ? data : data.subarray(0, end));
}

// --- errors ---

/** The kernel refused a request: `netlink RTM_NEWLINK veth1234: file exists (EEXIST)`. */
export class NetlinkError extends DiycError {
  constructor(
    readonly operation: string,
    readonly errno: number,
    readonly subject: string,
  ) {
    super(`netlink ${operation} ${subject}: ${errnoText(errno)} (${errnoName(errno)})`);
    this.name = "NetlinkError";
  }
}

// --- the socket ---

const RECV_BUFFER = 64 * 1024;

/**
 * One NETLINK_ROUTE socket. A netlink socket belongs to the network namespace
 * it was created in, for its whole life, whatever the thread does afterwards:
 * that is what lets src/network/netns.ts configure a container's namespace from
 * the host.
 */
export class NetlinkSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly buffer = new Uint8Array(RECV_BUFFER);
  private closed = false;

  private constructor(readonly fd: number) {}

  /** Opens and binds a socket in the calling thread's current network namespace. */
  static open(): NetlinkSocket {
    const fd = check("socket", symbols.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "NETLINK_ROUTE");
    const sock = new NetlinkSocket(fd);
    try {
      // sockaddr_nl: family, pad, pid 0 (kernel assigns), groups 0 (no multicast).
      const addr = new Uint8Array(12);
      new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
      check("bind", symbols.bind(fd, addr, addr.length), "NETLINK_ROUTE");
      // The kernel answers every ACKed request at once; the timeout only turns
      // a kernel bug or a lost answer into an error instead of a hang.
      const timeout = new BigInt64Array([5n, 0n]); // struct timeval { 5 s, 0 us }
      check("setsockopt", symbols.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16), "SO_RCVTIMEO");
    } catch (err) {
      sock.close();
      throw err;
    }
    return sock;
  }

  /**
   * Sends one request and returns the messages the kernel sent before its ACK
   * (a GET's answer; nothing for a change). Throws NetlinkError on NLMSG_ERROR.
   */
  request(req: Request): Message[] {
    const seq = ++this.seq >>> 0;
    const msg = encodeMessage(req, seq);
    const op = messageName(req.type);
    check("send", symbols.send(this.fd, msg, BigInt(msg.length), 0), `netlink ${op} ${req.subject}`);
    const replies: Message[] = [];
    for (;;) {
      const n = check("recv", symbols.recv(this.fd, this.buffer, BigInt(this.buffer.length), 0), `netlink ${op} ${req.subject}`);
      for (const m of decodeMessages(this.buffer.slice(0, n))) {
        if (m.seq !== seq) continue; // an answer to an earlier, abandoned request
        if (m.type === NLMSG_ERROR) {
          const error = new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true);
          if (error !== 0) throw new NetlinkError(op, -error, req.subject);
          return replies;
        }
        if (m.type === NLMSG_DONE) return replies;
        replies.push(m);
      }
    }
  }

  /**
   * Like request, but the kernel answering `errno` is an expected outcome
   * (EEXIST when adding, ENODEV when looking up or deleting): undefined then.
   * This is what makes setup and teardown idempotent.
   */
  requestUnless(req: Request, errno: number): Message[] | undefined {
    try {
      return this.request(req);
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === errno) return undefined;
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    symbols.close(this.fd);
  }
}

/** Runs `fn` with a fresh host-namespace socket, closing it whatever happens. */
export function withNetlink<T>(fn: (sock: NetlinkSocket) => T): T {
  const sock = NetlinkSocket.open();
  try {
    return fn(sock);
  } finally {
    sock.close();
  }
}
