// `diyc _finish NAME FD HELPER_PID TYPE A B`: not for users. diyc-wait
// (native/wait.c) runs it in the process of a foreground `diyc run` or
// `diyc start -a` whose wait it took over (src/runtime/hand-off.ts), once the
// monitor's message came: EXIT with the wait status, or EOF (TYPE 0). It does
// what that diyc would have done from there: clean up, send DONE on its end
// of the socket (FD), print the OOM line, and exit with the container's status.

import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "../linux/errors";
import { preparedDir, StartRecording, SUSPENDED_SUFFIX } from "../runtime/prepared";
import { finishRecording } from "./prepared";
import { HelperChannel } from "../runtime/helper-channel";
import { finishRun } from "../runtime/run";
import type { CliContext, Command } from "./context";
import { reportOutcome } from "./run";
import { runtimeContext } from "./runtime-context";

const INTEGER = /^-?\d{1,10}$/;

export const finish: Command = async (args, ctx) => {
  const [name, ...rest] = args;
  // A recorded run's hand-off (runtime/hand-off.ts): its recording, suspended, to be finished here.
  const suspended = rest[0] === "--recording" ? rest[1] : undefined;
  const numbers = suspended === undefined ? rest : rest.slice(2);
  if (!name || numbers.length !== 5 || !numbers.every((n) => INTEGER.test(n))) {
    throw new UsageError("_finish needs NAME [--recording FILE] FD HELPER_PID TYPE A B (diyc-wait runs it)");
  }
  const [fd, helperPid, type, a, b] = numbers.map(Number) as [number, number, number, number, number];
  const recording = suspended === undefined ? undefined : resumeRecording(ctx, suspended);
  const runtime = runtimeContext(ctx, ctx.verbose, recording);
  const channel = HelperChannel.adopt(fd, helperPid, ctx.syscalls);
  const outcome = await finishRun(runtime, name, channel, type === 0 ? undefined : { type, a, b });
  finishRecording(recording, outcome);
  return reportOutcome(ctx, name, outcome);
};

/** The suspended recording, if it is one of this store's (and then it is taken: the file goes). */
function resumeRecording(ctx: CliContext, suspended: string): StartRecording | undefined {
  const suffix = suspended.lastIndexOf(SUSPENDED_SUFFIX);
  if (suffix < 0 || dirname(suspended) !== preparedDir(ctx.store)) return undefined;
  try {
    return StartRecording.resume(suspended.slice(0, suffix), readFileSync(suspended, "utf8"));
  } catch {
    return undefined; // not there: the next run records again
  } finally {
    rmSync(suspended, { force: true });
  }
}
