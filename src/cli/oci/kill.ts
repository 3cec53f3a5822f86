// diyc-oci kill [--all] ID [SIGNAL]: SIGNAL is a number or a name, with or without SIG (default TERM).

import { UsageError } from "../../linux/errors";
import { has, parseArgs } from "../args";
import { killOciContainer, parseOciSignal } from "../../runtime/oci/lifecycle";
import type { OciCommand } from "./context";

export const kill: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, [{ long: "all", short: "a" }, { long: "pid", short: "p", value: true }], false);
  const [id, signal, ...rest] = parsed.positionals;
  if (id === undefined || rest.length > 0) throw new UsageError("usage: diyc-oci kill [--all] ID [SIGNAL]");
  if (has(parsed, "pid")) throw new UsageError("kill --pid is not supported by diyc-oci");
  killOciContainer(cli.ctx, id, parseOciSignal(signal), has(parsed, "all"));
  return 0;
};
