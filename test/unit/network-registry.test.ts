// The network registry shared by stores (src/network/ipam.ts, ports.ts,
// veth.ts, nftables.ts): no root, no kernel. Two stores on one registry share
// one address space and one set of host ports, and each releases only its own.

import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/store/store";
import { claimAddress, leasesDir, listLeases, releaseLeases, storeScope, type AddressPool } from "../../src/network/ipam";
import { parseIpv4, parseSubnet } from "../../src/network/ipv4";
import { containerTag } from "../../src/network/nftables";
import { claimPorts, listPortClaims, releasePorts } from "../../src/network/ports";
import { hostVethName, storeVethName } from "../../src/network/veth";
import { sweepStaleClaims } from "../../src/network/claim";

let tmp: string;
let home: Store;
let a: Store;
let b: Store;
const pool: AddressPool = { name: "shared", subnet: parseSubnet("10.231.9.0/28"), gateway: parseIpv4("10.231.9.1")! };

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "diyc-rl-registry-"));
  // The registry is the home store's network directory, as /var/lib/diyc/network is /var/lib/diyc's.
  const registry = join(tmp, "home", "network");
  home = new Store(join(tmp, "home"), registry);
  a = new Store(join(tmp, "a"), registry);
  b = new Store(join(tmp, "b"), registry);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

test("one address space: the same name in two stores gets two addresses; the home store's leases keep the old format", () => {
  expect(claimAddress(home, pool, "web")).toBe("10.231.9.2");
  expect(claimAddress(a, pool, "web")).toBe("10.231.9.3");
  expect(claimAddress(b, pool, "web")).toBe("10.231.9.4");
  expect(readFileSync(join(leasesDir(home, "shared"), "10.231.9.2"), "utf8")).toBe("web\n");
  expect(readFileSync(join(leasesDir(a, "shared"), "10.231.9.3"), "utf8")).toBe(`web\n${a.root}\n`);
  expect(() => claimAddress(b, pool, "db", "10.231.9.3")).toThrow(`address 10.231.9.3 is already in use by container web of store ${a.root}`);
  expect(listLeases(b, "shared")).toEqual([
    { ip: "10.231.9.2", container: "web" },
    { ip: "10.231.9.3", container: "web", store: a.root },
    { ip: "10.231.9.4", container: "web", store: b.root },
  ]);
  // Each store releases only its own container's lease.
  expect(releaseLeases(a, "shared", "web")).toEqual(["10.231.9.3"]);
  expect(listLeases(home, "shared").map((l) => l.ip)).toEqual(["10.231.9.2", "10.231.9.4"]);
});

test("host ports are claimed once for every store; each store gives back only its own", () => {
  const claim = (store: Store, container: string) => ({
    hostPort: 18690, containerPort: 80, protocol: "tcp" as const, container, network: "shared", containerIp: "10.231.9.2",
    ...(storeScope(store) === undefined ? {} : { store: storeScope(store) }),
  });
  claimPorts(a, [claim(a, "web")]);
  expect(() => claimPorts(b, [claim(b, "web")])).toThrow(`host port 18690/tcp is already published by container web of store ${a.root} on network shared`);
  expect(releasePorts(b, "shared", "web")).toEqual([]);
  expect(listPortClaims(home).map((c) => c.store)).toEqual([a.root]);
  expect(releasePorts(a, "shared", "web").length).toBe(1);
  expect(listPortClaims(home)).toEqual([]);
});

test("veth names and nft tags: the home store's as before, other stores' apart", () => {
  expect(storeVethName("web", storeScope(home))).toBe(hostVethName("web"));
  const names = new Set([storeVethName("web", storeScope(home)), storeVethName("web", storeScope(a)), storeVethName("web", storeScope(b))]);
  expect(names.size).toBe(3);
  for (const name of names) expect(name.length).toBeLessThanOrEqual(15);
  expect(containerTag("web", storeScope(home))).toBe("diyc container web");
  expect(containerTag("web", storeScope(a))).toMatch(/^diyc container web store [0-9a-f]{12}$/);
  expect(containerTag("web", storeScope(a))).not.toBe(containerTag("web", storeScope(b)));
});

test("claim files of dead claimers are swept; a live claimer's are kept", () => {
  const dir = leasesDir(a, "shared");
  mkdirSync(dir, { recursive: true });
  const dead = join(dir, ".claim-999999-abc");
  const live = join(dir, `.claim-${process.ppid}-def`);
  for (const f of [dead, live]) writeFileSync(f, "x\n");
  expect(sweepStaleClaims(dir)).toBe(1);
  expect([existsSync(dead), existsSync(live)]).toEqual([false, true]);
});
