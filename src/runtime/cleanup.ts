// The one clean-up routine: what the host holds for a container (its cgroup,
// its address, veth and port rules), released after its exit or after a
// failed or crashed create. Every path that ends a container comes here:
// `diyc run` after the exit, the monitor's hook (`diyc _cleanup`) when diyc is
// gone, `stop`, `rm` and restarts. Each step is idempotent, so two of them
// racing, or one running after a crash, is harmless.

import { basename } from "node:path";
import { detachEverywhere } from "../network/index";
import { containerFiles, readConfig, readExitRecord, readState, writeState } from "./container";
import type { RuntimeContext } from "./context";
import { removeTree } from "../image/tree";
import { releaseCgroup, type CgroupOutcome } from "./limits";
import { disconnectContainer } from "./networking";
import { containerStatus } from "./status";
import { releaseIdRanges } from "./userns";

/**
 * After the init has exited: release what the host holds for the container,
 * and delete it if it was run with --rm. Safe to call twice (the monitor's
 * hook and diyc may both get here) and on a container that is gone.
 */
export function finishContainer(ctx: RuntimeContext, name: string): CgroupOutcome {
  const config = readConfig(ctx.store, name);
  if (!config) return { oomKilled: false };
  if (containerStatus(ctx.store, name).status !== "exited") return { oomKilled: false };
  const outcome = releaseCgroup(ctx.cgroups(), name, readExitRecord(ctx.store, name)?.waitStatus);
  if (outcome.oomKilled) {
    const state = readState(ctx.store, name);
    if (state) writeState(ctx.store, name, { ...state, oomKilled: true });
  }
  disconnectContainer(ctx, name, config.network);
  releaseIdRanges(ctx.store, name); // the ids are the running container's: the next run may get others
  if (config.request.autoRemove) {
    ctx.trace?.host(`remove container ${name} (--rm)`);
    // The front removes the record last: a removal cut short leaves a container diyc still knows (and finishes).
    const files = containerFiles(ctx.store, name);
    ctx.recording?.add("rmtree", files.dir, basename(files.config));
    removeTree(files.dir, ctx.store.rootless);
  }
  return outcome;
}

/**
 * Everything recorded under the name, whether or not container.json says so:
 * a create killed before it wrote that file still made a cgroup, and maybe a
 * lease or a port claim. The caller holds the name's lock and its init is dead.
 */
export function releaseHostResources(ctx: RuntimeContext, name: string): void {
  releaseCgroup(ctx.cgroups(), name);
  releaseIdRanges(ctx.store, name);
  if (ctx.store.rootless) disconnectContainer(ctx, name, undefined); // pasta and its ports: no bridge to detach from
  else detachEverywhere(ctx.store, name, ctx.trace?.host);
}
