// NAT and filtering with nftables, through `nft -f -` (Debian's nftables).
//
// Everything lives in one table of the network's own (family ip), so:
//   - cleaning the network is a single `delete table`, and nothing else on the
//     host (other tables, other firewalls) is read or touched;
//   - each script below is one nft transaction: it applies whole or not at all.
//
// The table, explained rule by rule in docs/networking.md:
//
//   table ip T
//     chain postrouting   nat, srcnat      network rules (rewritten by setup)
//     chain forward       filter, forward  network rules (rewritten by setup)
//     chain prerouting    nat, dstnat      jump ports
//     chain output        nat, output      jump ports
//     chain ports         (regular)        one DNAT rule per published port,
//                                          commented with its container's name
//
// Setup flushes and refills only its own chains, never `ports`, so running it
// again while containers run keeps their published ports.

import { existsSync } from "node:fs";
import { DiycError } from "../linux/errors";
import { formatSubnet, type Subnet } from "./ipv4";
import type { PortMapping } from "./ports";

/** What the rules need to know about a network. */
export interface NftNetwork {
  table: string;
  bridge: string;
  subnet: Subnet;
}

/** nft table names go unquoted into scripts: keep them to plain identifiers. */
export const TABLE_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{0,31}$/;

// A fixed path, not $PATH: diyc runs as root and must not run whatever `nft`
// comes first in a caller's PATH.
const NFT_CANDIDATES = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];

export class NftError extends DiycError {
  constructor(
    readonly operation: string,
    readonly table: string,
    detail: string,
  ) {
    super(`nft ${operation} table ip ${table}: ${detail}`);
    this.name = "NftError";
  }
}

function nftBinary(table: string): string {
  const found = NFT_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) throw new NftError("exec", table, `nft not found in ${NFT_CANDIDATES.join(", ")} (install nftables) (ENOENT)`);
  return found;
}

/** Runs nft with `args`, feeding `script` on stdin; returns stdout. */
function runNft(operation: string, table: string, args: string[], script?: string): string {
  const proc = Bun.spawnSync([nftBinary(table), ...args], {
    stdin: script === undefined ? "ignore" : Buffer.from(script),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0) {
    const err = proc.stderr.toString().trim().split("\n")[0] ?? "";
    throw new NftError(operation, table, `${err || "failed"} (exit ${proc.exitCode})`);
  }
  return proc.stdout.toString();
}

/** nft -f -: one atomic transaction. */
export function applyScript(operation: string, table: string, script: string): void {
  runNft(operation, table, ["-f", "-"], script);
}

export function tableExists(table: string): boolean {
  const out = runNft("list", table, ["list", "tables", "ip"]);
  return out.split("\n").some((line) => line.trim() === `table ip ${table}`);
}

/** The comment that marks a container's rules, so detach finds exactly them. */
export function containerTag(container: string, storeScope?: string): string {
  // Another store's container of the same name must not share the tag (see veth.ts hostVethName).
  if (storeScope === undefined) return `diyc container ${container}`;
  return `diyc container ${container} store ${new Bun.CryptoHasher("sha256").update(storeScope).digest("hex").slice(0, 12)}`;
}

/** The script that creates or refreshes the network's table (not its port rules). */
export function networkScript(n: NftNetwork): string {
  const t = `ip ${n.table}`;
  const subnet = formatSubnet(n.subnet);
  const br = JSON.stringify(n.bridge);
  return [
    `add table ${t}`,
    `add chain ${t} ports`,
    `add chain ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `flush chain ${t} prerouting`,
    `add rule ${t} prerouting jump ports`,
    `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
    `flush chain ${t} output`,
    `add rule ${t} output jump ports`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain ${t} postrouting`,
    // Containers going anywhere but their own bridge leave with the host's address.
    `add rule ${t} postrouting ip saddr ${subnet} oifname != ${br} masquerade`,
    // The localhost path of a published port: after DNAT the packet still has
    // source 127.0.0.1, which the container could not answer.
    `add rule ${t} postrouting ip saddr 127.0.0.0/8 oifname ${br} masquerade`,
    // Container -> gateway:published port -> a container on the same bridge: the
    // reply would go straight back over the bridge, bypassing the un-DNAT, so the
    // client must see it come from the gateway.
    `add rule ${t} postrouting ip saddr ${subnet} oifname ${br} ct status dnat masquerade`,
    `add chain ${t} forward { type filter hook forward priority filter; policy accept; }`,
    `flush chain ${t} forward`,
    `add rule ${t} forward iifname ${br} accept`,
    `add rule ${t} forward oifname ${br} ct state established,related accept`,
    `add rule ${t} forward oifname ${br} ct status dnat accept`,
    "",
  ].join("\n");
}

/** One DNAT rule per published port, all tagged with the container's name. */
export function portRulesScript(table: string, container: string, containerIp: string, ports: PortMapping[], storeScope?: string): string {
  const tag = JSON.stringify(containerTag(container, storeScope));
  return ports
    .map((p) => {
      // No host address: every local address, including the gateway (for
      // other containers) and 127.0.0.1 (through the output chain).
      const dst = p.hostIp === undefined ? "fib daddr type local" : `ip daddr ${p.hostIp}`;
      return `add rule ip ${table} ports ${dst} ${p.protocol} dport ${p.hostPort} dnat to ${containerIp}:${p.containerPort} comment ${tag}\n`;
    })
    .join("");
}

interface NftJsonRule {
  rule?: { chain: string; handle: number; comment?: string };
}

/** Handles of the rules in `ports` that carry the container's tag. */
export function containerRuleHandles(listing: string, container: string, storeScope?: string): number[] {
  const tag = containerTag(container, storeScope);
  const items = (JSON.parse(listing) as { nftables: NftJsonRule[] }).nftables;
  return items.flatMap((item) => (item.rule?.chain === "ports" && item.rule.comment === tag ? [item.rule.handle] : []));
}

export function addPortRules(table: string, container: string, containerIp: string, ports: PortMapping[], storeScope?: string): void {
  if (ports.length === 0) return;
  applyScript("add port rules to", table, portRulesScript(table, container, containerIp, ports, storeScope));
}

/** Deletes exactly the container's port rules; returns how many there were. */
export function deletePortRules(table: string, container: string, storeScope?: string): number {
  if (!tableExists(table)) return 0;
  const handles = containerRuleHandles(runNft("list", table, ["-j", "-a", "list", "chain", "ip", table, "ports"]), container, storeScope);
  if (handles.length === 0) return 0;
  // Handles never change or get reused while the table lives, so rules other
  // containers add or delete meanwhile cannot be hit.
  applyScript("delete port rules from", table, handles.map((h) => `delete rule ip ${table} ports handle ${h}\n`).join(""));
  return handles.length;
}

export function ensureNetworkRules(n: NftNetwork): void {
  applyScript("set up", n.table, networkScript(n));
}

/** Deletes the whole table; false if there was none. */
export function deleteTable(table: string): boolean {
  if (!tableExists(table)) return false;
  applyScript("delete", table, `delete table ip ${table}\n`);
  return true;
}

