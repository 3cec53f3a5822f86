// A wait(2) status, as a shell reports it. Here rather than next to the
// helper protocol, so that reading a container's status (ps) does not load
// the module that embeds the helper binary.

/** The exit code, or 128 + the signal that killed the process. */
export function exitCodeOf(waitStatus: number): number {
  const signal = termSignalOf(waitStatus);
  return signal === 0 ? (waitStatus >> 8) & 0xff : 128 + signal;
}

/** The signal that killed the process, or 0 if it exited. */
export function termSignalOf(waitStatus: number): number {
  return waitStatus & 0x7f;
}
