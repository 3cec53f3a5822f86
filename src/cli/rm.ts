// `diyc rm NAME...`: deletes stopped containers and their files.

import { UsageError } from "../linux/errors";
import { removeContainer, sweepStaleLocks } from "../runtime/remove";
import { has, parseArgs, VERBOSE } from "./args";
import type { Command } from "./context";
import { forEachName } from "./each";
import { runtimeContext } from "./runtime-context";

const HELP = `Usage: diyc rm [-v] [-f] NAME...

Deletes containers: their writable layer, configuration and state. Every name is\ntried; each failure is reported on its own line, and the status is 125 if any failed.
  -f, --force   kill a running container first
  -v, --verbose print every kernel step`;

export const rm: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "force", short: "f" }, VERBOSE, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  if (parsed.positionals.length === 0) throw new UsageError("rm needs at least one container name");
  const runtime = runtimeContext(ctx, ctx.verbose || has(parsed, "verbose"));
  const status = await forEachName(ctx, parsed.positionals, (name) => removeContainer(runtime, name, has(parsed, "force")));
  sweepStaleLocks(ctx.store, ctx.syscalls); // lock files of runs killed before they claimed their name
  return status;
};
