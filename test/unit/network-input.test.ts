// User input to the network library: -p specs, -i addresses, subnets and
// network configs. Bad input is a UsageError with one readable line.

import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/linux/errors";
import { DEFAULT_NETWORK, networkConfigFor, parseNetworkConfig, parsePublish, validateRequestedIp, type NetworkConfig } from "../../src/network/index";
import { formatSubnet, parseIpv4, parseSubnet } from "../../src/network/ipv4";
import { networkScript, portRulesScript } from "../../src/network/nftables";

const net: NetworkConfig = { name: "t", bridge: "dtst1", subnet: "10.213.7.0/24", gateway: "10.213.7.1", table: "diyc_t1" };

describe("parsePublish", () => {
  test.each([
    ["8080:80", { hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ["8080:80/tcp", { hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ["5353:53/udp", { hostPort: 5353, containerPort: 53, protocol: "udp" }],
    ["127.0.0.1:8080:80", { hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ["0.0.0.0:1:65535/udp", { hostPort: 1, containerPort: 65535, protocol: "udp" }],
  ])("%p", (spec, expected) => {
    expect(parsePublish(spec)).toEqual(expected as ReturnType<typeof parsePublish>);
  });

  test.each(["", "8080:", ":80", "8080:65536", "8080:80/sctp", "8080:80/tcp/udp", "a:80", "1.2.3:8080:80", "256.0.0.1:1:2", "1:2:3:4", "08080x:80"])(
    "%p is refused",
    (spec) => {
      expect(() => parsePublish(spec)).toThrow(UsageError);
    },
  );

  test("the message names the part that is wrong", () => {
    expect(() => parsePublish("8080:99999")).toThrow('invalid port "99999" in -p 8080:99999: use a number from 1 to 65535');
  });
});

describe("validateRequestedIp", () => {
  test("accepts an address inside the subnet", () => {
    expect(validateRequestedIp(net, "10.213.7.30")).toBe("10.213.7.30");
    expect(validateRequestedIp(DEFAULT_NETWORK, "172.16.0.30")).toBe("172.16.0.30");
  });
  test.each([
    ["10.213.7", 'invalid address "10.213.7"'],
    ["10.213.7.300", 'invalid address "10.213.7.300"'],
    ["010.213.7.3", 'invalid address "010.213.7.3"'],
    ["10.213.8.5", "address 10.213.8.5 cannot be used: it is outside the subnet 10.213.7.0/24 of network t"],
    ["10.213.7.0", "it is the subnet's network address"],
    ["10.213.7.1", "it is the gateway's address"],
    ["10.213.7.255", "it is the subnet's broadcast address"],
  ])("%p is refused", (ip, message) => {
    expect(() => validateRequestedIp(net, ip)).toThrow(message);
  });
});

describe("subnets and network configs", () => {
  test("parseSubnet reads CIDR and refuses host bits and odd prefixes", () => {
    expect(formatSubnet(parseSubnet("172.16.0.0/24"))).toBe("172.16.0.0/24");
    expect(parseIpv4("172.16.0.1")).toBe(0xac100001);
    expect(() => parseSubnet("172.16.0.1/24")).toThrow("host bits are set (did you mean 172.16.0.0/24?)");
    expect(() => parseSubnet("172.16.0.0/31")).toThrow(UsageError);
    expect(() => parseSubnet("172.16.0.0")).toThrow(UsageError);
  });

  test("networkConfigFor: defaults, a gateway at the first address, a table of its own", () => {
    expect(networkConfigFor({})).toEqual(DEFAULT_NETWORK);
    expect(networkConfigFor({ bridge: "br-x.1", subnet: "10.9.0.0/16" })).toEqual({
      name: "br-x.1",
      bridge: "br-x.1",
      subnet: "10.9.0.0/16",
      gateway: "10.9.0.1",
      table: "diyc_br_x_1",
    });
    expect(() => networkConfigFor({ bridge: "other" })).toThrow("--subnet is required");
  });

  test("configs that would reach a link name, path or nft script unchecked are refused", () => {
    expect(() => parseNetworkConfig({ ...net, bridge: "a-bridge-name-too-long" })).toThrow("invalid bridge name");
    expect(() => parseNetworkConfig({ ...net, bridge: "../x" })).toThrow("invalid bridge name");
    expect(() => parseNetworkConfig({ ...net, table: "x; flush ruleset" })).toThrow("invalid nft table name");
    expect(() => parseNetworkConfig({ ...net, name: "../etc" })).toThrow("invalid network name");
    expect(() => parseNetworkConfig({ ...net, gateway: "10.213.7.255" })).toThrow("broadcast");
  });
});

describe("nft scripts", () => {
  test("the network's rules stay in its own table and leave the port rules alone", () => {
    const script = networkScript({ table: "diyc_t1", bridge: "dtst1", subnet: parseSubnet("10.213.7.0/24") });
    for (const line of script.trim().split("\n")) expect(line).toMatch(/^(add|flush) (table|chain|rule) ip diyc_t1( |$)/);
    expect(script).not.toContain("flush chain ip diyc_t1 ports");
    expect(script).toContain('add rule ip diyc_t1 postrouting ip saddr 10.213.7.0/24 oifname != "dtst1" masquerade');
    expect(script).toContain('add rule ip diyc_t1 postrouting ip saddr 127.0.0.0/8 oifname "dtst1" masquerade');
  });

  test("port rules: every local address unless a host address is given; tagged with the container", () => {
    expect(portRulesScript("diyc_t1", "web", "10.213.7.2", [parsePublish("8080:80"), parsePublish("127.0.0.1:53:5353/udp")])).toBe(
      'add rule ip diyc_t1 ports fib daddr type local tcp dport 8080 dnat to 10.213.7.2:80 comment "diyc container web"\n' +
        'add rule ip diyc_t1 ports ip daddr 127.0.0.1 udp dport 53 dnat to 10.213.7.2:5353 comment "diyc container web"\n',
    );
  });
});

describe("-p forms docker takes", () => {
  test("CTRPORT and HOSTIP::CTRPORT leave the host port to be chosen (0)", async () => {
    const { parsePublish, ANY_PORT } = await import("../../src/network/ports");
    expect(parsePublish("80")).toEqual({ hostPort: ANY_PORT, containerPort: 80, protocol: "tcp" });
    expect(parsePublish("53/udp")).toEqual({ hostPort: ANY_PORT, containerPort: 53, protocol: "udp" });
    expect(parsePublish("127.0.0.1::80")).toEqual({ hostIp: "127.0.0.1", hostPort: ANY_PORT, containerPort: 80, protocol: "tcp" });
    expect(parsePublish("8080:80")).toEqual({ hostPort: 8080, containerPort: 80, protocol: "tcp" });
    expect(parsePublish("0:80").hostPort).toBe(ANY_PORT); // as docker: port 0 is any free one
    expect(() => parsePublish(":80")).toThrow("invalid port");
    expect(() => parsePublish("1:2:3:4")).toThrow("invalid -p");
  });
});
