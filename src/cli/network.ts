// `diyc network setup|clean|ls`: parses argv, calls src/network, formats the
// result. Errors are thrown as DiycError; the dispatcher prints them.

import { UsageError } from "../linux/errors";
import {
  cleanNetwork,
  DEFAULT_NETWORK,
  listLeases,
  listNetworks,
  loadNetworkConfig,
  networkConfigFor,
  setupNetwork,
  type NetworkConfig,
} from "../network/index";
import type { CliContext, Command } from "./context";

const HELP = `Usage: diyc network COMMAND [OPTIONS]

Manage container networks: a bridge holding the gateway address, NAT to the
outside through an nftables table of the network's own, and published ports.
Containers join with \`diyc run -i ADDR\` (or get the lowest free address).

Commands:
  setup   Create the network (again: harmless, keeps attached containers)
  clean   Remove it: attached containers' veths, leases and ports, the nft
          table, the bridge, and ip_forward's original value
  ls      List networks: NAME, BRIDGE, SUBNET, GATEWAY, TABLE, CONTAINERS

Options (setup, clean):
  --bridge NAME    Bridge name, also the network's name (default diyc0)
  --subnet CIDR    Subnet (default 172.16.0.0/24 for diyc0; required otherwise)
  --gateway IP     The bridge's address (default: the subnet's first address)

See docs/networking.md.`;

export const network: Command = async (args, ctx) => {
  const [subcommand, ...rest] = args;
  if (rest.includes("--help") || rest.includes("-h")) return printHelp(ctx);
  switch (subcommand) {
    case undefined:
    case "--help":
    case "-h":
    case "help":
      return printHelp(ctx);
    case "setup":
      setupNetwork(ctx.store, configFromFlags(rest, ctx, "setup"), trace(ctx));
      return 0;
    case "clean":
      cleanNetwork(ctx.store, configFromFlags(rest, ctx, "clean"), trace(ctx));
      return 0;
    case "ls":
    case "list":
      return listCommand(rest, ctx);
    default:
      throw new UsageError(`unknown network command ${JSON.stringify(subcommand)}; see diyc network --help`);
  }
};

function printHelp(ctx: CliContext): number {
  ctx.print(HELP);
  return 0;
}

function trace(ctx: CliContext): (line: string) => void {
  return ctx.verbose ? (line) => ctx.log(`HOST| ${line}`) : () => {};
}

type Flag = "--bridge" | "--subnet" | "--gateway";
const FLAGS: readonly string[] = ["--bridge", "--subnet", "--gateway"];

function parseFlags(args: string[], command: string): Partial<Record<Flag, string>> {
  const flags: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!FLAGS.includes(name)) throw new UsageError(`unknown option ${JSON.stringify(arg)} for diyc network ${command}`);
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === "") throw new UsageError(`option ${name} needs a value`);
    flags[name as Flag] = value;
  }
  return flags;
}

/**
 * setup builds the config from the flags; clean prefers what setup recorded in
 * the store, so `clean --bridge NAME` needs no --subnet.
 */
function configFromFlags(args: string[], ctx: CliContext, command: "setup" | "clean"): NetworkConfig {
  const flags = parseFlags(args, command);
  const bridge = flags["--bridge"];
  if (command === "clean") {
    const known = loadNetworkConfig(ctx.store, bridge ?? DEFAULT_NETWORK.name);
    if (known !== undefined) return known;
  }
  return networkConfigFor({ bridge, subnet: flags["--subnet"], gateway: flags["--gateway"] });
}

function listCommand(args: string[], ctx: CliContext): number {
  if (args.length !== 0) throw new UsageError("usage: diyc network ls");
  const rows = listNetworks(ctx.store).map((n) => [n.name, n.bridge, n.subnet, n.gateway, n.table, String(listLeases(ctx.store, n.name).length)]);
  const table = [["NAME", "BRIDGE", "SUBNET", "GATEWAY", "TABLE", "CONTAINERS"], ...rows];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  for (const row of table) ctx.print(row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join("  ").trimEnd());
  return 0;
}
