// `start`: an exited container runs again, with its kept files and the
// request it was made with (container.json).

import { DiycError, UsageError } from "../linux/errors";
import { withContainerLock } from "../store/lock";
import { readConfig } from "./container";
import type { RuntimeContext } from "./context";
import { runContainer, type RunOutcome } from "./run";
import { containerExists, containerStatus, requireContainer } from "./status";

export interface StartOptions {
  /** Leave it to its monitor (start without -a). */
  detach: boolean;
  inTerminalForeground: boolean;
}

export async function startExited(ctx: RuntimeContext, name: string, options: StartOptions): Promise<RunOutcome> {
  requireContainer(ctx.store, name);
  // Read under the lock: a `rm -f` in progress deletes container.json before the directory.
  const config = await withContainerLock(ctx.store, name, ctx.syscalls, () => {
    if (!containerExists(ctx.store, name)) throw new DiycError(`no such container: ${name}`);
    return readConfig(ctx.store, name);
  });
  if (!config?.request) throw new DiycError(`container ${name} has no stored configuration to start it with`);
  // What decides is checked again once the name's lock is held: a `rm -f` or
  // another start may have come first, and a start that went ahead then would
  // make the container again, with an empty writable layer.
  let refusal: DiycError | undefined;
  const proceed = () => {
    if (!containerExists(ctx.store, name) || readConfig(ctx.store, name)?.createdAtMs === undefined) {
      refusal = new DiycError(`no such container: ${name}`);
    } else {
      const status = containerStatus(ctx.store, name).status;
      if (status !== "exited") refusal = new UsageError(`container ${name} is already ${status}`);
    }
    return refusal === undefined;
  };
  // Attached: a wait that lasts goes on in diyc-wait, and `diyc _finish` reports the outcome.
  const outcome = await runContainer(ctx, { ...config.request, detach: options.detach }, {
    inTerminalForeground: options.inTerminalForeground, proceed, handOff: !options.detach,
  });
  if (refusal) throw refusal;
  return outcome;
}
