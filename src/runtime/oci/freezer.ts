// pause and resume (runtime-spec's "paused" status, runc's commands): the
// container's freezer cgroup (src/cgroups/freezer.ts), found from its place.

import { hostMountinfo } from "../limits";
import { Freezer } from "../../cgroups/freezer";
import { DiycError } from "../../linux/errors";
import { statusOf, withContainer, type OciContainerState, type OciContext } from "./state";

export function freezerOf(state: Pick<OciContainerState, "cgroup">): Freezer | undefined {
  return Freezer.locate(hostMountinfo(), state.cgroup.parent, state.cgroup.name);
}

export function isFrozen(state: OciContainerState): boolean {
  try {
    return freezerOf(state)?.frozen() ?? false;
  } catch {
    return false; // removed while we looked: not frozen
  }
}

export async function pauseOciContainer(ctx: OciContext, id: string): Promise<void> {
  await withContainer(ctx, id, async (state) => {
    const status = statusOf(ctx, state, () => isFrozen(state));
    if (status !== "running") throw new DiycError(`cannot pause container ${id}: it is ${status}, not running`);
    const freezer = freezerOf(state);
    if (!freezer) throw new DiycError("this host has no freezer cgroup controller");
    await freezer.freeze();
  });
}

export async function resumeOciContainer(ctx: OciContext, id: string): Promise<void> {
  await withContainer(ctx, id, async (state) => {
    const status = statusOf(ctx, state, () => isFrozen(state));
    if (status !== "paused") throw new DiycError(`cannot resume container ${id}: it is ${status}, not paused`);
    await freezerOf(state)!.thaw();
  });
}
