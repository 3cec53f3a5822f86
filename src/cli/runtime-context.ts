// The library's view of the CLI's context: what src/runtime needs, built from
// the command line's choices.

import { ensureBuiltinImage, imageExists, requireImageRootfs } from "../image/images";
import type { CgroupManager } from "../cgroups/index";
import { hostCgroups } from "../runtime/limits";
import type { RuntimeContext } from "../runtime/context";
import type { CliContext } from "./context";
import { traceTo } from "../linux/trace";

/** The built-in image is made on first use, so a fresh machine needs no import. */
export const BUILTIN_IMAGE = "busybox";

export function runtimeContext(ctx: CliContext, verbose: boolean): RuntimeContext {
  let cgroups: CgroupManager | undefined;
  const trace = verbose ? traceTo(ctx.log) : undefined;
  return {
    cgroups: () => (cgroups ??= hostCgroups(ctx.store, trace?.host)),
    store: ctx.store,
    syscalls: ctx.syscalls,
    trace,
    diycCommand: ctx.diycCommand,
    imageRootfs: (image) => {
      if (image === BUILTIN_IMAGE && !imageExists(ctx.store, image)) {
        ctx.store.ensure();
        ensureBuiltinImage(ctx.store, BUILTIN_IMAGE);
      }
      return requireImageRootfs(ctx.store, image);
    },
  };
}
