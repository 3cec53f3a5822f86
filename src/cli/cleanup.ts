// `diyc _cleanup NAME`: not for users. The monitor runs it when a container
// ends and no diyc process is there to clean up (diyc was killed, or the
// container was detached). It does what `diyc run` does after the exit, and
// applies the container's restart policy.

import { UsageError } from "../linux/errors";
import { finishAndMaybeRestart } from "../runtime/restart";
import type { Command } from "./context";
import { runtimeContext } from "./runtime-context";

export const cleanup: Command = async (args, ctx) => {
  const [name] = args;
  if (!name || args.length !== 1) throw new UsageError("_cleanup needs exactly one container name");
  const runtime = runtimeContext(ctx, ctx.verbose);
  await finishAndMaybeRestart(runtime, name);
  return 0;
};
