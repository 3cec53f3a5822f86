// `diyc start [-a] NAME`: runs an exited container again, with its kept
// files and configuration. Detached unless -a.

import { DiycError, UsageError } from "../linux/errors";
import { readConfig } from "../runtime/container";
import { runContainer } from "../runtime/run";
import { containerStatus, requireContainer } from "../runtime/status";
import { has, parseArgs } from "./args";
import type { Command } from "./context";
import { reportOutcome } from "./run";
import { runtimeContext } from "./runtime-context";

export const start: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "attach", short: "a" }, { long: "verbose", short: "v" }, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print("Usage: diyc start [-a] [-v] NAME\n\nStarts an exited container again. -a: stay attached and exit with its status.");
    return 0;
  }
  const [name, ...extra] = parsed.positionals;
  if (!name || extra.length > 0) throw new UsageError("start needs exactly one container name");
  const runtime = runtimeContext(ctx, ctx.verbose || has(parsed, "verbose"));
  requireContainer(ctx.store, name);
  const config = readConfig(ctx.store, name);
  if (!config?.request) throw new DiycError(`container ${name} has no stored configuration to start it with`);
  const status = containerStatus(ctx.store, name).status;
  if (status !== "exited") throw new UsageError(`container ${name} is already ${status}`);
  const outcome = await runContainer(runtime, { ...config.request, detach: !has(parsed, "attach") }, ctx.syscalls.inTerminalForeground());
  return reportOutcome(ctx, name, outcome);
};
