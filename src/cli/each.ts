// Commands on several names (rm, stop, kill, start) act on every name, as
// docker does: a name that fails gets its own error line and does not stop
// the others; the exit status is 125 if any failed. Output per success is the
// name, on stdout, so scripts can tell which ones worked.

import { DiycError, ExitCode, fsErrorAsSyscallError } from "../linux/errors";
import type { CliContext } from "./context";

/**
 * Runs `act` for each name in order; returns 0, or 125 if any failed. Bugs (non-DiycErrors) still propagate.
 * `printName: false` for commands whose `act` prints its own lines (image rm: Untagged/Deleted).
 */
export async function forEachName(
  ctx: CliContext, names: string[], act: (name: string) => Promise<void>, { printName = true } = {},
): Promise<number> {
  let failed = false;
  for (const name of names) {
    try {
      await act(name);
      if (printName) ctx.print(name);
    } catch (caught) {
      const error = fsErrorAsSyscallError(caught) ?? caught;
      if (!(error instanceof DiycError)) throw error;
      ctx.log(`diyc: ${error.message}`);
      failed = true;
    }
  }
  return failed ? ExitCode.RuntimeError : 0;
}
