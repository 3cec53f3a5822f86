// What every command receives from the dispatcher (src/cli/main.ts). Commands
// parse their own argv, call the library, and format the result. The library
// never sees argv or process.env: it gets values from here.

import type { TrackedEnvironment } from "./env-reads";
import type { Store } from "../store/store";
import type { Syscalls } from "../linux/syscalls";

export interface CliContext {
  store: Store;
  syscalls: Syscalls;
  /** -v/--verbose: print every kernel step as it happens. */
  verbose: boolean;
  /** Where -v trace lines and errors go (stderr). */
  log: (line: string) => void;
  /** Normal output (stdout). */
  print: (line: string) => void;
  /** The absolute path of the diyc launcher, for hooks that re-enter diyc. */
  diycCommand: string[];
  /** The caller's environment, for `-e VAR` (pass a variable through). Commands only, never the library. */
  env?: Record<string, string | undefined>;
  /** The environment's names read so far, for a recorded run (cli/prepared.ts). */
  environment?: TrackedEnvironment;
}

/** A command: parse `args` (everything after the command's name), act, return the exit code. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;
