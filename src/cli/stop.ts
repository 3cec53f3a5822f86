// `diyc stop [-t SECS] NAME...` and `diyc kill [-s SIGNAL] NAME...`.

import { UsageError } from "../linux/errors";
import { parseSignal } from "../linux/signals";
import { killContainer, stopContainer } from "../runtime/stop";
import { has, last, parseArgs, VERBOSE } from "./args";
import type { Command } from "./context";
import { forEachName } from "./each";
import { runtimeContext } from "./runtime-context";

export const stop: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "time", short: "t", value: true }, VERBOSE, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print("Usage: diyc stop [-v] [-t SECS] NAME...\n\nSIGTERM, then SIGKILL after SECS (default 10); waits until the container has exited and is cleaned up.");
    return 0;
  }
  const time = last(parsed, "time") ?? "10";
  if (!/^\d{1,6}$/.test(time)) throw new UsageError(`invalid -t ${JSON.stringify(time)}: a number of seconds`);
  if (parsed.positionals.length === 0) throw new UsageError("stop needs at least one container name");
  const runtime = runtimeContext(ctx, ctx.verbose || has(parsed, "verbose"));
  return forEachName(ctx, parsed.positionals, (name) => stopContainer(runtime, name, Number(time)));
};

export const kill: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "signal", short: "s", value: true }, VERBOSE, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print("Usage: diyc kill [-v] [-s SIGNAL] NAME...\n\nSends SIGNAL (default KILL) to each container's init.");
    return 0;
  }
  const signal = parseSignal(last(parsed, "signal") ?? "KILL");
  if (parsed.positionals.length === 0) throw new UsageError("kill needs at least one container name");
  const runtime = runtimeContext(ctx, ctx.verbose || has(parsed, "verbose"));
  return forEachName(ctx, parsed.positionals, (name) => killContainer(runtime, name, signal));
};
