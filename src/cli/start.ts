// `diyc start [-a] NAME...`: runs exited containers again, with their kept
// files and configuration. Detached unless -a (one name only).

import { DiycError, UsageError } from "../linux/errors";
import { readConfig } from "../runtime/container";
import { withContainerLock } from "../store/lock";
import type { RuntimeContext } from "../runtime/context";
import { runContainer, type RunOutcome } from "../runtime/run";
import { containerExists, containerStatus, requireContainer } from "../runtime/status";
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
    const outcome = await startOne(runtime, names[0]!, false, ctx.syscalls.inTerminalForeground());
    return reportOutcome(ctx, names[0]!, outcome);
  }
  return forEachName(ctx, names, async (name) => {
    await startOne(runtime, name, true, false);
  });
};

async function startOne(runtime: RuntimeContext, name: string, detach: boolean, stdinIsTerminal: boolean): Promise<RunOutcome> {
  requireContainer(runtime.store, name);
  // Read under the lock: a `rm -f` in progress deletes container.json before the directory.
  const config = await withContainerLock(runtime.store, name, runtime.syscalls, () => {
    if (!containerExists(runtime.store, name)) throw new DiycError(`no such container: ${name}`);
    return readConfig(runtime.store, name);
  });
  if (!config?.request) throw new DiycError(`container ${name} has no stored configuration to start it with`);
  // What decides is checked again once the name's lock is held: a `rm -f` or
  // another start may have come first, and a start that went ahead then would
  // make the container again, with an empty writable layer.
  let refusal: DiycError | undefined;
  const proceed = () => {
    if (!containerExists(runtime.store, name) || readConfig(runtime.store, name)?.createdAtMs === undefined) {
      refusal = new DiycError(`no such container: ${name}`);
    } else {
      const status = containerStatus(runtime.store, name).status;
      if (status !== "exited") refusal = new UsageError(`container ${name} is already ${status}`);
    }
    return refusal === undefined;
  };
  // -a: a wait that lasts goes on in diyc-wait, and `diyc _finish` (finish.ts) reports the outcome as below.
  const outcome = await runContainer(runtime, { ...config.request, detach }, { inTerminalForeground: stdinIsTerminal, proceed, handOff: !detach });
  if (refusal) throw refusal;
  return outcome;
}
