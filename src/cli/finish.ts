// `diyc _finish NAME FD HELPER_PID TYPE A B`: not for users. diyc-wait
// (native/wait.c) runs it in the process of a foreground `diyc run` or
// `diyc start -a` whose wait it took over (src/runtime/hand-off.ts), once the
// monitor's message came: EXIT with the wait status, or EOF (TYPE 0). It does
// what that diyc would have done from there: clean up, send DONE on its end
// of the socket (FD), print the OOM line, and exit with the container's status.

import { UsageError } from "../linux/errors";
import { HelperChannel } from "../runtime/helper-channel";
import { finishRun } from "../runtime/run";
import type { Command } from "./context";
import { reportOutcome } from "./run";
import { runtimeContext } from "./runtime-context";

const INTEGER = /^-?\d{1,10}$/;

export const finish: Command = async (args, ctx) => {
  const [name, ...numbers] = args;
  if (!name || numbers.length !== 5 || !numbers.every((n) => INTEGER.test(n))) {
    throw new UsageError("_finish needs NAME FD HELPER_PID TYPE A B (diyc-wait runs it)");
  }
  const [fd, helperPid, type, a, b] = numbers.map(Number) as [number, number, number, number, number];
  const runtime = runtimeContext(ctx, ctx.verbose);
  const channel = HelperChannel.adopt(fd, helperPid, ctx.syscalls);
  const outcome = await finishRun(runtime, name, channel, type === 0 ? undefined : { type, a, b });
  return reportOutcome(ctx, name, outcome);
};
