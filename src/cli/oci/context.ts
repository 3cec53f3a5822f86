// What every diyc-oci command receives from the dispatcher (./main.ts).

import { UsageError } from "../../linux/errors";
import type { OciContext } from "../../runtime/oci/state";

export interface OciCli {
  ctx: OciContext;
  /** Normal output (stdout). */
  print: (text: string) => void;
  /** A warning that does not fail the command (a poststart hook that failed): stderr and --log. */
  warn: (message: string) => void;
}

/** A command: parse `args` (after the command's name), act, return the exit code. */
export type OciCommand = (args: string[], cli: OciCli) => Promise<number>;

/** The one positional argument most commands take. */
export function onlyId(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`usage: diyc-oci ${usage}`);
  return positionals[0]!;
}
