// The library's view of the CLI's context: what src/runtime needs, built from
// the command line's choices.

import { BUILTIN_IMAGE, ensureBuiltinImage } from "../image/builtin";
import { findImage, fitLowerdirs, holdImageForContainer, imageLayout } from "../image/images";
import { hostCgroupFs } from "../cgroups/index";
import type { StartRecording } from "../runtime/prepared";
import type { CgroupManager } from "../cgroups/index";
import { containerFiles } from "../runtime/container";
import { hostCgroups } from "../runtime/limits";
import type { RuntimeContext } from "../runtime/context";
import { HOST_SUBID_FILES } from "../runtime/userns";
import type { CliContext } from "./context";
import { traceTo } from "../linux/trace";


export function runtimeContext(ctx: CliContext, verbose: boolean, recording?: StartRecording): RuntimeContext {
  let cgroups: CgroupManager | undefined;
  const trace = verbose ? traceTo(ctx.log) : undefined;
  return {
    cgroups: () => (cgroups ??= hostCgroups(ctx.store, trace?.host, recording?.cgroupFs(hostCgroupFs))),
    recording,
    store: ctx.store,
    syscalls: ctx.syscalls,
    trace,
    diycCommand: ctx.diycCommand,
    // DIYC_SUBUID and DIYC_SUBGID name other files than /etc/subuid and /etc/subgid (tests use their own).
    subidFiles: {
      subuid: ctx.env?.DIYC_SUBUID ?? HOST_SUBID_FILES.subuid,
      subgid: ctx.env?.DIYC_SUBGID ?? HOST_SUBID_FILES.subgid,
    },
    imageLayers: async (image, container) => {
      // The built-in image is made on first use, so a fresh machine needs no import.
      if (image === BUILTIN_IMAGE && findImage(imageLayout(ctx.store), image) === undefined) {
        await ensureBuiltinImage(ctx.store, ctx.syscalls);
      }
      // The overlay mount's -v line shows the layers; no line of its own here.
      const { lowerdirs } = holdImageForContainer(ctx.store, image, container, ctx.syscalls, recording);
      // upperdir=DIR/upper,workdir=DIR/work: what else goes in overlayfs's one page of options.
      const { upper, work } = containerFiles(ctx.store, container);
      const others = `,upperdir=${upper},workdir=${work}`.length;
      const fitted = fitLowerdirs(ctx.store, lowerdirs, others);
      if (fitted !== lowerdirs) recording?.refuse("the layers' short names (l/)");
      return fitted;
    },
  };
}
