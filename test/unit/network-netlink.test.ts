// The rtnetlink encoder, byte for byte, without root: every request diyc sends
// to the kernel is checked against the layout in <linux/rtnetlink.h>.

import { describe, expect, test } from "bun:test";
import { addAddressRequest, addDefaultRouteRequest } from "../../src/network/address";
import { createBridgeRequest } from "../../src/network/bridge";
import { parseIpv4, parseSubnet } from "../../src/network/ipv4";
import { decodeLink, deleteLinkByIndexRequest, deleteLinkRequest, getLinkRequest, listPortsRequest, setAddressRequest, setLinkUpRequest, setMasterRequest } from "../../src/network/link";
import { formatMac, macForIpv4, macForName } from "../../src/network/mac";
import { decodeAttrs, decodeMessages, encodeMessage, NetlinkError } from "../../src/network/netlink";
import { createVethRequest, hostVethName } from "../../src/network/veth";

/** "0a 00" style hex, spaces and newlines ignored. */
function hex(text: string): string {
  return text.replace(/\s+/g, "");
}

function bytesHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

const ZERO_IFINFO = "00".repeat(16);

describe("netlink request encoding", () => {
  test("create bridge: RTM_NEWLINK, CREATE|EXCL|ACK, IFLA_IFNAME, IFLA_ADDRESS from the name, nested IFLA_LINKINFO/IFLA_INFO_KIND", () => {
    const msg = encodeMessage(createBridgeRequest("br0"), 1);
    // IFLA_ADDRESS: 02 + bytes 1..5 of sha256("br0") = 0f1575ab177c…, padded to 4 bytes.
    expect(bytesHex(msg)).toBe(
      hex(`
        44000000 1000 0506 01000000 00000000
        ${ZERO_IFINFO}
        08000300 62723000
        0a000100 021575ab 177c0000
        10001200 0b000100 62726964 67650000
      `),
    );
  });

  test("create veth: host end's MAC from its name; the peer is an ifinfomsg plus IFLA_IFNAME, IFLA_ADDRESS 02:42:<ip>, IFLA_NET_NS_PID", () => {
    const msg = encodeMessage(createVethRequest("vethab", "eth0", 1234, parseIpv4("10.0.0.9")!), 0x01020304);
    expect(bytesHex(msg)).toBe(
      hex(`
        80000000 1000 0506 04030201 00000000
        ${ZERO_IFINFO}
        0b000300 76657468 61620000
        0a000100 02ef89ff 126a0000
        48001200
          09000100 76657468 00000000
          38000200
            34000100
              ${ZERO_IFINFO}
              09000300 65746830 00000000
              0a000100 02420a00 00090000
              08001300 d2040000
      `),
    );
  });

  test("set address: IFLA_ADDRESS on the link's index, no CREATE", () => {
    expect(bytesHex(encodeMessage(setAddressRequest({ name: "x", index: 9 }, macForIpv4(parseIpv4("172.16.0.30")!)), 1))).toBe(
      hex(`
        2c000000 1000 0500 01000000 00000000
        00000000 09000000 00000000 00000000
        0a000100 0242ac10 001e0000
      `),
    );
  });

  test("add address: ifaddrmsg AF_INET/prefix/index, IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST in network order", () => {
    const req = addAddressRequest({ name: "eth0", index: 2 }, parseIpv4("10.0.0.5")!, parseSubnet("10.0.0.0/24"));
    expect(req.subject).toBe("10.0.0.5/24 dev eth0");
    expect(bytesHex(encodeMessage(req, 7))).toBe(
      hex(`
        30000000 1400 0506 07000000 00000000
        02 18 00 00 02000000
        08000200 0a000005
        08000100 0a000005
        08000400 0a0000ff
      `),
    );
  });

  test("default route: rtmsg main table, boot protocol, universe scope, unicast; RTA_GATEWAY and RTA_OIF", () => {
    const req = addDefaultRouteRequest({ name: "eth0", index: 2 }, parseIpv4("10.0.0.1")!);
    expect(req.subject).toBe("default via 10.0.0.1 dev eth0");
    expect(bytesHex(encodeMessage(req, 2))).toBe(
      hex(`
        2c000000 1800 0506 02000000 00000000
        02 00 00 00 fe 03 00 01 00000000
        08000500 0a000001
        08000400 02000000
      `),
    );
  });

  test("set up: ifinfomsg with the index, IFF_UP in flags and change, no CREATE", () => {
    expect(bytesHex(encodeMessage(setLinkUpRequest({ name: "x", index: 7 }), 3))).toBe(
      hex(`
        20000000 1000 0500 03000000 00000000
        0000 0000 07000000 01000000 01000000
      `),
    );
  });

  test("set master: IFLA_MASTER u32 on the link's index", () => {
    expect(bytesHex(encodeMessage(setMasterRequest({ name: "x", index: 9 }, 4), 1))).toBe(
      hex(`
        28000000 1000 0500 01000000 00000000
        00000000 09000000 00000000 00000000
        08000a00 04000000
      `),
    );
  });

  test("delete and get link by name: index 0 and IFLA_IFNAME", () => {
    const body = hex(`${ZERO_IFINFO} 0a000300 64747374 31000000`);
    expect(bytesHex(encodeMessage(deleteLinkRequest("dtst1"), 5))).toBe(hex(`2c000000 1100 0500 05000000 00000000`) + body);
    expect(bytesHex(encodeMessage(getLinkRequest("dtst1"), 5))).toBe(hex(`2c000000 1200 0500 05000000 00000000`) + body);
  });

  test("delete by index: ifinfomsg with the index, no name", () => {
    expect(bytesHex(encodeMessage(deleteLinkByIndexRequest({ name: "dtst1", index: 9 }), 5)))
      .toBe(hex(`20000000 1100 0500 05000000 00000000 00000000 09000000 00000000 00000000`));
  });

  test("list a bridge's ports: a GETLINK dump (REQUEST|ACK|ROOT|MATCH) filtered by IFLA_MASTER", () => {
    expect(bytesHex(encodeMessage(listPortsRequest(7), 5))).toBe(hex(`28000000 1200 0503 05000000 00000000 ${ZERO_IFINFO} 08000a00 07000000`));
  });
});

describe("MAC addresses", () => {
  test("from an IPv4 address: 02:42 and the address's bytes", () => {
    expect(formatMac(macForIpv4(parseIpv4("10.213.7.9")!))).toBe("02:42:0a:d5:07:09");
    expect(formatMac(macForIpv4(parseIpv4("255.255.255.254")!))).toBe("02:42:ff:ff:ff:fe");
  });

  test("from a name: stable, locally administered unicast, never in the 02:42 range", () => {
    expect(formatMac(macForName("br0"))).toBe("02:15:75:ab:17:7c");
    expect(formatMac(macForName("br0"))).toBe(formatMac(macForName("br0")));
    expect(formatMac(macForName("br1"))).not.toBe(formatMac(macForName("br0")));
    // sha256("n53") starts 39 42 ac 08 b6 7d: the 0x42 is moved out of the address-derived range.
    expect(formatMac(macForName("n53"))).toBe("02:43:ac:08:b6:7d");
    for (let i = 0; i < 1000; i++) {
      const mac = macForName(`name${i}`);
      expect(mac[0]).toBe(0x02);
      expect(mac[1]).not.toBe(0x42);
    }
  });
});

describe("netlink decoding", () => {
  test("splits a datagram into messages and reads an NLMSG_ERROR's errno", () => {
    const error = Buffer.from(hex(`24000000 0200 0001 05000000 00000000 efffffff`) + "00".repeat(16), "hex");
    const done = Buffer.from(hex(`14000000 0300 0200 06000000 00000000 00000000`), "hex");
    const messages = decodeMessages(new Uint8Array(Buffer.concat([error, done])));
    expect(messages.map((m) => [m.type, m.seq])).toEqual([[2, 5], [3, 6]]);
    expect(new DataView(messages[0]!.payload.buffer, messages[0]!.payload.byteOffset).getInt32(0, true)).toBe(-17);
  });

  test("decodes a link: index, flags, name, kind, master and address", () => {
    const payload = Buffer.from(
      hex(`
        0000 0100 05000000 43100100 00000000
        0a000300 64747374 31000000
        0a000100 021575ab 177c0000
        08000a00 03000000
        10001200 0b000100 62726964 67650000
      `),
      "hex",
    );
    expect(decodeLink(new Uint8Array(payload))).toEqual({
      name: "dtst1", index: 5, flags: 0x11043, kind: "bridge", master: 3, address: "02:15:75:ab:17:7c",
    });
  });

  test("attributes with the NLA_F_NESTED bit are found by their type", () => {
    const attrs = decodeAttrs(new Uint8Array(Buffer.from(hex(`08001280 01020304`), "hex")));
    expect([...attrs.keys()]).toEqual([18]);
  });

  test("NetlinkError names the operation, the subject, the errno", () => {
    const err = new NetlinkError("RTM_NEWLINK", 17, "veth1234");
    expect(err.message).toBe("netlink RTM_NEWLINK veth1234: file exists (EEXIST)");
    expect(err.errno).toBe(17);
  });
});

describe("host veth names", () => {
  test("fit IFNAMSIZ and differ for names sharing a long prefix", () => {
    const a = hostVethName("a-very-long-container-name-1");
    const b = hostVethName("a-very-long-container-name-2");
    expect(a.length).toBeLessThanOrEqual(15);
    expect(b.length).toBeLessThanOrEqual(15);
    expect(a).not.toBe(b);
    expect(hostVethName("web")).toMatch(/^vethweb[0-9a-f]{6}$/);
  });
  test("are stable, so detach finds the veth after a crash", () => {
    expect(hostVethName("db.1")).toBe(hostVethName("db.1"));
    expect(hostVethName("db.1")).toMatch(/^[a-zA-Z0-9]+$/);
  });
});
