// A foreground `diyc run` whose container runs on does not wait in Bun: Bun
// keeps some 40 MiB resident, for a wait that needs a socket and a few signal
// handlers. After a short grace (a short command's exit is taken at once, at
// no extra cost: waitContainer in run.ts), diyc execve's diyc-wait
// (native/wait.c), 0.1 MiB, in its own process: the same pid, process group
// and terminal, so the user's shell, `kill PID` and Ctrl-C see no change.
// diyc-wait forwards the signals diyc would, as this module tells it, waits
// for the monitor's EXIT on diyc's end of the socket, and then execs
// `diyc _finish` (src/cli/finish.ts), which cleans up, says what must be said
// (the OOM line) and exits with the container's status. docs/helper-protocol.md,
// "A foreground run's wait", has the whole story.

import { readFileSync } from "node:fs";
// The waiter, embedded in the compiled diyc like the helper (native/Makefile builds both).
import waiterFile from "../../native/build/diyc-wait" with { type: "file" };
import { ExitCode } from "../linux/errors";
import { HOST_PREFIX } from "../linux/trace";
import { diycAgain, type RuntimeContext } from "./context";
import type { HelperChannel } from "./helper-channel";
import { SUSPENDED_SUFFIX } from "./prepared";

const WAITER_PATH: string = waiterFile;

/** How long the event loop runs, signals blocked on this thread, before the execve (see handOffWait). */
const SIGNAL_DRAIN_MS = 3;

/** What diyc-wait does with the signals it gets: the same as diyc's own handlers (run.ts). */
export interface SignalPolicy {
  /** Sent on to the container's init. */
  forward: number[];
  /** Caught and not sent on: the terminal sent them to the monitor too. */
  catchOnly: number[];
  /** The `after`th `signal` sends `action` to the init instead, and so does every one after it. */
  count: { signal: number; after: number; action: number; trace?: string };
}

export interface HandOff {
  /** The container's name, for `diyc _finish`. */
  name: string;
  channel: HelperChannel;
  initPid: number;
  /** Asked again at the last moment: diyc's handlers go on counting until then. */
  signals: () => SignalPolicy;
}

/**
 * Replaces this process with diyc-wait. Returns only if that failed: the
 * caller then goes on waiting in Bun, as before.
 *
 * Signals on the way: this thread blocks them first, and a signal blocked
 * here stays pending across the execve (a caught one would be reset to its
 * default action: death, for SIGTERM); diyc-wait unblocks them once its
 * handlers are set. Bun's other threads do not block them, so one that
 * arrives now is taken by Bun's handler there: the event loop runs once
 * more (SIGNAL_DRAIN_MS), so that diyc's handlers forward (or count) it
 * before the policy is read. Only the last synchronous steps, microseconds,
 * are left uncovered.
 */
export async function handOffWait(ctx: RuntimeContext, handOff: HandOff): Promise<void> {
  const { syscalls, trace } = ctx;
  const { channel } = handOff;
  // A recorded run (prepared.ts) is suspended here, and `_finish` records the end.
  const suspended = ctx.recording ? `${ctx.recording.path}${SUSPENDED_SUFFIX}${process.pid}` : undefined;
  const recordingArgs = suspended !== undefined && ctx.recording!.save(suspended) ? ["--recording", suspended] : [];
  const then = diycAgain(ctx, [...(trace ? ["-v"] : []), "_finish", handOff.name, ...recordingArgs, String(channel.fd), String(channel.helper.pid)]);
  const policy = handOff.signals();
  const caught = [...new Set([...policy.forward, ...policy.catchOnly, policy.count.signal])];
  const list = (numbers: number[]) => numbers.join(",");
  let image: number;
  try {
    image = syscalls.sealedMemfd("diyc-wait", readFileSync(WAITER_PATH));
  } catch (error) {
    trace?.host(`diyc waits on: no diyc-wait to hand the wait to (${(error as Error).message})`);
    return;
  }
  trace?.host(`the init runs on: hand the wait to diyc-wait (execve, the pid stays); diyc runs again once it has exited`);
  const blocked = syscalls.blockSignals(caught);
  const unblock = caught.filter((signal) => !blocked.includes(signal));
  // A signal one of Bun's other threads took reaches diyc's handlers through the event loop's
  // wake-up, which one setImmediate turn does not always wait for (a SIGTERM in 40 was lost
  // so, under load): a short timer lets the loop poll for it.
  await Bun.sleep(SIGNAL_DRAIN_MS);
  const signals = handOff.signals();
  const { count } = signals;
  const argv = [
    "diyc-wait", String(channel.fd), String(handOff.initPid),
    ...(signals.forward.length > 0 ? ["--forward", list(signals.forward)] : []),
    ...(signals.catchOnly.length > 0 ? ["--catch", list(signals.catchOnly)] : []),
    "--count", `${count.signal}:${count.after}:${count.action}`,
    ...(count.trace !== undefined ? ["--note", `${HOST_PREFIX}${count.trace}\n`] : []),
    ...(unblock.length > 0 ? ["--unblock", list(unblock)] : []),
    "--fail", String(ExitCode.RuntimeError), "--", ...then,
  ];
  try {
    syscalls.setCloseOnExec(channel.fd, false);
    syscalls.execv(`/proc/self/fd/${image}`, argv);
  } catch (error) {
    // Still here: nothing changed but the fd's flag and the mask.
    syscalls.setCloseOnExec(channel.fd, true);
    syscalls.unblockSignals(unblock);
    syscalls.close(image);
    trace?.host(`diyc waits on: the hand-off failed (${(error as Error).message})`);
  }
}
