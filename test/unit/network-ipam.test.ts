// IPAM, port claims and hosts files on a temporary store: no root, no kernel.
// Concurrency is real: separate Bun processes claim from the same directory.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/linux/errors";
import { Store } from "../../src/store/store";
import { hostsFilePath, writeHostsFiles } from "../../src/network/hosts";
import { claimAddress, leaseHolder, leasesDir, listLeases, releaseLeases, type AddressPool } from "../../src/network/ipam";
import { parseIpv4, parseSubnet } from "../../src/network/ipv4";
import { containerRuleHandles } from "../../src/network/nftables";
import { claimPorts, listPortClaims, parsePublish, releasePorts, type PortClaim } from "../../src/network/ports";

let root: string;
let store: Store;
const pool: AddressPool = { name: "tnet", subnet: parseSubnet("10.213.9.0/28"), gateway: parseIpv4("10.213.9.1")! };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "diyc-ipam-"));
  store = new Store(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("address leases", () => {
  test("hands out the lowest free address, skipping network, gateway and broadcast", () => {
    const got = ["a", "b", "c"].map((c) => claimAddress(store, pool, c));
    expect(got).toEqual(["10.213.9.2", "10.213.9.3", "10.213.9.4"]);
    expect(leaseHolder(store, "tnet", "10.213.9.3")).toBe("b");
    releaseLeases(store, "tnet", "b");
    expect(claimAddress(store, pool, "d")).toBe("10.213.9.3");
  });

  test("a requested address already leased names its holder", () => {
    claimAddress(store, pool, "web", "10.213.9.10");
    expect(() => claimAddress(store, pool, "db", "10.213.9.10")).toThrow(
      new UsageError("address 10.213.9.10 is already in use by container web"),
    );
  });

  test("a full pool is a UsageError", () => {
    // /28: 16 addresses minus network, gateway and broadcast.
    for (let i = 0; i < 13; i++) claimAddress(store, pool, `c${i}`);
    expect(() => claimAddress(store, pool, "one-too-many")).toThrow("no free address left in 10.213.9.0/28");
  });

  test("release frees only the container's leases and is idempotent", () => {
    claimAddress(store, pool, "a");
    claimAddress(store, pool, "b");
    expect(releaseLeases(store, "tnet", "a")).toEqual(["10.213.9.2"]);
    expect(releaseLeases(store, "tnet", "a")).toEqual([]);
    expect(listLeases(store, "tnet")).toEqual([{ ip: "10.213.9.3", container: "b" }]);
  });

  test("a hostname other than the name is kept in the lease", () => {
    claimAddress(store, pool, "named", undefined, "web.example");
    claimAddress(store, pool, "plain", undefined, "plain");
    expect(listLeases(store, "tnet").map(({ container, hostname }) => ({ container, hostname }))).toEqual([
      { container: "named", hostname: "web.example" }, { container: "plain", hostname: undefined },
    ]);
  });

  test("concurrent processes never get the same address", async () => {
    const big: AddressPool = { name: "big", subnet: parseSubnet("10.213.10.0/24"), gateway: parseIpv4("10.213.10.1")! };
    const script = `
      const { Store } = await import(${JSON.stringify(join(import.meta.dir, "../../src/store/store.ts"))});
      const { claimAddress } = await import(${JSON.stringify(join(import.meta.dir, "../../src/network/ipam.ts"))});
      const { parseSubnet } = await import(${JSON.stringify(join(import.meta.dir, "../../src/network/ipv4.ts"))});
      const pool = { name: "big", subnet: parseSubnet("10.213.10.0/24"), gateway: ${big.gateway} };
      const store = new Store(process.argv[1]);
      const got = [];
      for (let i = 0; i < 10; i++) got.push(claimAddress(store, pool, process.argv[2] + "-" + i));
      console.log(JSON.stringify(got));
    `;
    const workers = Array.from({ length: 8 }, (_, w) =>
      Bun.spawn([process.execPath, "-e", script, root, `w${w}`], { stdout: "pipe", stderr: "inherit" }),
    );
    const results = await Promise.all(workers.map(async (p) => JSON.parse(await new Response(p.stdout).text()) as string[]));
    expect(await Promise.all(workers.map((p) => p.exited))).toEqual(Array(8).fill(0));
    const all = results.flat();
    expect(all.length).toBe(80);
    expect(new Set(all).size).toBe(80);
    expect(listLeases(store, "big").length).toBe(80);
    // No temporary claim files are left behind.
    expect(readdirSync(leasesDir(store, "big")).filter((n) => n.startsWith("."))).toEqual([]);
  });
});

describe("host port claims", () => {
  const claim = (container: string, network: string, spec: string): PortClaim => ({
    ...parsePublish(spec),
    container,
    network,
    containerIp: "10.213.9.2",
  });

  test("a host port is claimed once across networks; the message names the holder", () => {
    claimPorts(store, [claim("web", "n1", "8080:80")]);
    expect(() => claimPorts(store, [claim("api", "n2", "127.0.0.1:8080:81")])).toThrow(
      "host port 8080/tcp is already published by container web on network n1",
    );
    // Same number, other protocol: a different port.
    claimPorts(store, [claim("dns", "n2", "8080:53/udp")]);
  });

  test("claims are all or nothing", () => {
    claimPorts(store, [claim("web", "n1", "9000:80")]);
    expect(() => claimPorts(store, [claim("api", "n1", "9001:80"), claim("api", "n1", "9000:80")])).toThrow(UsageError);
    expect(listPortClaims(store).map((c) => c.hostPort)).toEqual([9000]);
  });

  test("release gives back exactly the container's ports on that network", () => {
    claimPorts(store, [claim("web", "n1", "9000:80"), claim("web", "n1", "9001:81")]);
    claimPorts(store, [claim("web", "n2", "9002:80")]);
    expect(releasePorts(store, "n1", "web").map((c) => c.hostPort).sort()).toEqual([9000, 9001]);
    expect(listPortClaims(store).map((c) => c.hostPort)).toEqual([9002]);
  });

  test("detach finds a container's nft rules by their comment", () => {
    const listing = JSON.stringify({
      nftables: [
        { metainfo: {} },
        { chain: { name: "ports", handle: 1 } },
        { rule: { chain: "ports", handle: 4, comment: "diyc container web" } },
        { rule: { chain: "ports", handle: 5, comment: "diyc container web2" } },
        { rule: { chain: "ports", handle: 6, comment: "diyc container web" } },
      ],
    });
    expect(containerRuleHandles(listing, "web")).toEqual([4, 6]);
  });
});

describe("hosts files", () => {
  test("every leased container's file lists every leased name, rewritten in place", () => {
    for (const c of ["web", "db"]) mkdirSync(store.containerDir(c), { recursive: true });
    claimAddress(store, pool, "web");
    expect(writeHostsFiles(store, { name: "tnet" })).toEqual(["web"]);
    const inode = statSync(hostsFilePath(store, "web")).ino;
    claimAddress(store, pool, "db");
    // A container without a directory is skipped, never created.
    claimAddress(store, pool, "ghost");
    expect(writeHostsFiles(store, { name: "tnet" })).toEqual(["web", "db"]);
    const expected = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.213.9.2\tweb\n10.213.9.3\tdb\n10.213.9.4\tghost\n";
    expect(readFileSync(hostsFilePath(store, "web"), "utf8")).toBe(expected);
    expect(readFileSync(hostsFilePath(store, "db"), "utf8")).toBe(expected);
    // Same inode: a bind mount of the file keeps seeing it.
    expect(statSync(hostsFilePath(store, "web")).ino).toBe(inode);
    expect(existsSync(store.containerDir("ghost"))).toBe(false);
  });
});
