// The -v trace: every kernel step, one line each, in the order they happen.
// Two sides write it: diyc's own steps on the host ("HOST| ...", through a
// Trace) and the container's init, running the plan ("CONTAINER| ...", the
// helper writes the lines the plan carries). The prefixes are added here and
// nowhere else; lower modules (cgroups, network) log plain lines.

/** Writes one line of the trace. */
export type Log = (line: string) => void;

export const HOST_PREFIX = "HOST| ";
export const CONTAINER_PREFIX = "CONTAINER| ";

export interface Trace {
  /** A step diyc takes on the host. */
  host: Log;
  /** A step seen in the container (most come from the init itself, through the plan). */
  container: Log;
}

export function traceTo(write: Log): Trace {
  return { host: (line) => write(HOST_PREFIX + line), container: (line) => write(CONTAINER_PREFIX + line) };
}
