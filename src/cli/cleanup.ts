// `diyc _cleanup NAME`: not for users. The monitor runs it when a container
// ends and no diyc process is there to clean up (diyc was killed, or the
// container was detached). It does what `diyc run` does after the exit.

import { UsageError } from "../linux/errors";
import { withContainerLock } from "../runtime/lock";
import { finishContainer } from "../runtime/run";
import type { Command } from "./context";
import { runtimeContext } from "./runtime-context";

export const cleanup: Command = async (args, ctx) => {
  const [name] = args;
  if (!name || args.length !== 1) throw new UsageError("_cleanup needs exactly one container name");
  const runtime = runtimeContext(ctx, ctx.verbose);
  await withContainerLock(ctx.store, name, ctx.syscalls, () => finishContainer(runtime, name));
  return 0;
};
