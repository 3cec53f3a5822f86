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
import { has, last, parseArgs, VERBOSE, type OptionSpec } from "./args";
import { formatTable } from "./format";
import { traceTo } from "../linux/trace";
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
  -v, --verbose    print every kernel step
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
  }
  if (ctx.store.rootless) {
    throw new UsageError("network: rootless, there are no bridges to manage: a container's own network comes from pasta (--net bridge, -p; docs/rootless.md)");
  }
  switch (subcommand) {
    case "setup": {
      const { config, log } = configFromFlags(rest, ctx, "setup");
      setupNetwork(ctx.store, config, log);
      ctx.print(`network ${config.name}: bridge ${config.bridge}, subnet ${config.subnet}, gateway ${config.gateway}, nft table ${config.table}`);
      return 0;
    }
    case "clean": {
      const { config, log } = configFromFlags(rest, ctx, "clean");
      cleanNetwork(ctx.store, config, log);
      return 0;
    }
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

const FLAGS: OptionSpec[] = [{ long: "bridge", value: true }, { long: "subnet", value: true }, { long: "gateway", value: true }, VERBOSE];

function parseFlags(args: string[], command: string): { bridge?: string; subnet?: string; gateway?: string; verbose: boolean } {
  const parsed = parseArgs(args, FLAGS, false);
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])} for diyc network ${command}`);
  const value = (name: string) => {
    const v = last(parsed, name);
    if (v === "") throw new UsageError(`option --${name} needs a value`);
    return v;
  };
  return { bridge: value("bridge"), subnet: value("subnet"), gateway: value("gateway"), verbose: has(parsed, "verbose") };
}

/**
 * setup builds the config from the flags; clean prefers what setup recorded in
 * the store, so `clean --bridge NAME` needs no --subnet.
 */
function configFromFlags(args: string[], ctx: CliContext, command: "setup" | "clean"): { config: NetworkConfig; log: (line: string) => void } {
  const flags = parseFlags(args, command);
  // -v before the command (ctx.verbose) or after it: each step as a HOST| line.
  const log = ctx.verbose || flags.verbose ? traceTo(ctx.log).host : () => {};
  const bridge = flags.bridge;
  if (command === "clean") {
    const known = loadNetworkConfig(ctx.store, bridge ?? DEFAULT_NETWORK.name);
    if (known !== undefined) return { config: known, log };
  }
  return { config: networkConfigFor({ bridge, subnet: flags.subnet, gateway: flags.gateway }), log };
}

function listCommand(args: string[], ctx: CliContext): number {
  if (args.length !== 0) throw new UsageError("usage: diyc network ls");
  const rows = listNetworks(ctx.store).map((n) => [n.name, n.bridge, n.subnet, n.gateway, n.table, String(listLeases(ctx.store, n.name).length)]);
  ctx.print(formatTable([["NAME", "BRIDGE", "SUBNET", "GATEWAY", "TABLE", "CONTAINERS"], ...rows]));
  return 0;
}
