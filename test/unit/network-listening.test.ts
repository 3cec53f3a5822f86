// What the host already uses, parsed from /proc/net (src/network/listening.ts):
// the lines are real ones from this machine's kernel.

import { describe, expect, test } from "bun:test";
import { overlaps, parseBoundSockets, parseRoutes } from "../../src/network/listening";
import { parseSubnet } from "../../src/network/ipv4";

describe("bound sockets", () => {
  test("tcp: only listeners hold a port; addresses and ports decoded, wildcard known", () => {
    const lines = [
      "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 244 1 00000000db638026 100 0 0 10 0",
      "   1: 0100007F:9D2B 0100007F:82CC 06 00000000:00000000 03:00000389 00000000     0        0 0 3 00000000b84c730f",
      "   2: 0100007F:48A9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0",
    ];
    expect(parseBoundSockets("tcp", lines)).toEqual([
      { address: "0.0.0.0", port: 2024, wildcard: true, inode: "244" },
      { address: "127.0.0.1", port: 18601, wildcard: false, inode: "777" },
    ]);
  });

  test("udp and IPv6: every socket counts; [::] is the wildcard", () => {
    const lines = [
      " 1234: 0100007F:48AA 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2 0000000000000000 0",
      "  10: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 66 2 0000000000000000 0",
      "  11: 00000000000000000000000001000000:0036 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 67 2 0000000000000000 0",
    ];
    expect(parseBoundSockets("udp", lines)).toEqual([
      { address: "127.0.0.1", port: 18602, wildcard: false, inode: "555" },
      { address: "[::]", port: 53, wildcard: true, inode: "66" },
      { address: "[0:0:0:0:0:0:0:1]", port: 54, wildcard: false, inode: "67" },
    ]);
  });
});

describe("routes and overlaps", () => {
  test("the default route is left out; destination and mask decoded", () => {
    const routes = parseRoutes([
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "drl6\t0010E70A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "br1\t0000E70A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
    ]);
    expect(routes).toEqual([
      { device: "eth0", subnet: parseSubnet("192.0.2.0/24") },
      { device: "drl6", subnet: parseSubnet("10.231.16.0/24") },
      { device: "br1", subnet: parseSubnet("10.231.0.0/16") },
    ]);
  });

  test("two subnets overlap when the shorter prefix covers both", () => {
    expect(overlaps(parseSubnet("10.231.14.0/24"), parseSubnet("10.231.14.128/25"))).toBe(true);
    expect(overlaps(parseSubnet("10.231.0.0/16"), parseSubnet("10.231.14.0/24"))).toBe(true);
    expect(overlaps(parseSubnet("10.231.14.0/24"), parseSubnet("10.231.15.0/24"))).toBe(false);
    expect(overlaps(parseSubnet("10.231.14.0/25"), parseSubnet("10.231.14.128/25"))).toBe(false);
  });
});
