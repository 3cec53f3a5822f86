// A pid alone does not identify a process: pids are reused. A pid plus the
// process's start time (field 22 of /proc/PID/stat, in clock ticks since boot)
// does, so a reused pid is never mistaken for a container.

import { readFileSync } from "node:fs";

export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

interface ProcStat {
  state: string;
  startTime: number;
}

function readStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // no such process: that is the answer, not an error
  }
  // Field 2 (comm) may hold spaces and parentheses: count from the last ")".
  // What follows is field 3 (state) onwards.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTime = Number(fields[22 - 3]);
  return Number.isFinite(startTime) ? { state: fields[0] ?? "?", startTime } : undefined;
}

/** The identity of a running process, or undefined if there is none. */
export function identify(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime } : undefined;
}

/** True only if the very same process is still there (a zombie counts as gone). */
export function isAlive(id: ProcessIdentity | undefined): boolean {
  if (!id) return false;
  const stat = readStat(id.pid);
  return stat !== undefined && stat.startTime === id.startTime && stat.state !== "Z";
}
