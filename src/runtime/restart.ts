// Restart policies, with no daemon: when a detached container ends, its
// monitor runs `diyc _cleanup NAME`, which cleans up and then, if the policy
// says so, starts the container again (detached, so a new monitor takes over).
// A delay that doubles with each restart keeps a crashing container from
// spinning. `diyc stop`, `kill` and `rm` end the cycle.

import { readConfig, readState, writeState } from "./container";
import { decideRestart } from "./restart-policy";
import { identify } from "../linux/process-identity";
import { withContainerLock } from "../store/lock";
import type { RuntimeContext } from "./context";
import { finishContainer } from "./cleanup";
import { runContainer } from "./run";
import { containerStatus } from "./status";

/** What the monitor's cleanup hook does: finish, then restart if the policy says so. */
export async function finishAndMaybeRestart(ctx: RuntimeContext, name: string): Promise<void> {
  const decision = await withContainerLock(ctx.store, name, ctx.syscalls, () => {
    finishContainer(ctx, name);
    const config = readConfig(ctx.store, name);
    const state = readState(ctx.store, name);
    // A create that never started (diyc killed half-way) is cleaned up, not restarted.
    if (!config?.request || !state?.startedAtMs) return undefined;
    const status = containerStatus(ctx.store, name);
    const decided = decideRestart(config.request.restart ?? { policy: "no" }, status.exitCode, state.restartCount ?? 0, state.stopRequested ?? false);
    // While we wait out the delay, ps says "Restarting" and logs -f keeps following: we are the restart.
    const self = identify(process.pid);
    if (decided.restart && self) writeState(ctx.store, name, { ...state, restartingBy: self });
    return decided;
  });
  if (!decision?.restart) return;
  ctx.trace?.host(`restart ${name} in ${decision.delayMs} ms (restart ${decision.restartCount})`);
  await Bun.sleep(decision.delayMs);
  const config = readConfig(ctx.store, name);
  if (!config?.request) return;
  // Whoever stopped or removed it during the delay wins: checked again under the lock.
  const stillWanted = () => {
    const state = readState(ctx.store, name);
    return readConfig(ctx.store, name) !== undefined && !state?.stopRequested && containerStatus(ctx.store, name).status === "exited";
  };
  await runContainer(ctx, { ...config.request, detach: true }, { inTerminalForeground: false, restartCount: decision.restartCount, proceed: stillWanted });
}
