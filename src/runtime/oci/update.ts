// `diyc-oci update`: new limits for a container that is created, running or paused.

import { DiycError } from "../../linux/errors";
import type { LinuxResources } from "../../spec/resources";
import { cgroupManagerFor } from "./cgroup";
import { statusOf, withContainer, writeContainer, type OciContext } from "./state";

export async function updateOciContainer(ctx: OciContext, id: string, resources: LinuxResources): Promise<void> {
  await withContainer(ctx, id, (state) => {
    if (statusOf(ctx, state) === "stopped") throw new DiycError(`cannot update container ${id}: it is stopped`);
    const cgroup = cgroupManagerFor(state.cgroup, ctx.debug).open(state.cgroup.name);
    if (!cgroup) throw new DiycError(`container ${id} has no cgroup`);
    cgroup.update(resources);
    const merged: LinuxResources = { ...state.spec.linux.resources };
    if (resources.memory) merged.memory = { ...merged.memory, ...resources.memory };
    if (resources.cpu) merged.cpu = { ...merged.cpu, ...resources.cpu };
    if (resources.pids) merged.pids = resources.pids;
    writeContainer(ctx, { ...state, spec: { ...state.spec, linux: { ...state.spec.linux, resources: merged } } });
  });
}
