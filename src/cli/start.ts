// `diyc start [-a] NAME...`: runs exited containers again, with their kept
// files and configuration (src/runtime/start.ts). Detached unless -a (one name only).

import { UsageError } from "../linux/errors";
import { startExited } from "../runtime/start";
import { has, parseArgs } from "./args";
import type { Command } from "./context";
import { forEachName } from "./each";
import { reportOutcome } from "./run";
import { runtimeContext } from "./runtime-context";

export const start: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "attach", short: "a" }, { long: "verbose", short: "v" }, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print("Usage: diyc start [-a] [-v] NAME...\n\nStarts exited containers again. -a: stay attached (one name only) and exit with its status.");
    return 0;
  }
  const names = parsed.positionals;
  if (names.length === 0) throw new UsageError("start needs at least one container name");
  const runtime = runtimeContext(ctx, ctx.verbose || has(parsed, "verbose"));
  if (has(parsed, "attach")) {
    if (names.length > 1) throw new UsageError("start -a takes exactly one container name");
    const outcome = await startExited(runtime, names[0]!, { detach: false, inTerminalForeground: ctx.syscalls.inTerminalForeground() });
    return reportOutcome(ctx, names[0]!, outcome);
  }
  return forEachName(ctx, names, async (name) => {
    await startExited(runtime, name, { detach: true, inTerminalForeground: false });
  });
};
