// The one error class of the cgroups module. A cgroup failure is always a file
// operation on cgroupfs (mkdir, rmdir, open/write, read), so the error carries
// the operation, the file's path and the errno the kernel gave, and prints as
// one line: `cgroup write /sys/fs/cgroup/memory/diyc/x/memory.limit_in_bytes:
// device or resource busy (EBUSY)`.

import { DiycError, errnoName, errnoText } from "../linux/errors";

export type CgroupOp = "mkdir" | "rmdir" | "write" | "read" | "bpf" | "detect" | "config";

export class CgroupError extends DiycError {
  constructor(
    readonly op: CgroupOp,
    readonly path: string,
    /** The kernel's errno, or undefined when diyc itself refused (no errno to report). */
    readonly errno: number | undefined,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    const why = errno === undefined ? (detail ?? "failed") : `${errnoText(errno)} (${errnoName(errno)})`;
    const extra = errno !== undefined && detail !== undefined ? ` [${detail}]` : "";
    super(`cgroup ${op} ${path}: ${why}${extra}`, undefined, options);
    this.name = "CgroupError";
  }
}

/** The positive errno of a node:fs error (Bun and Node report it negated), if it has one. */
export function errnoOf(error: unknown): number | undefined {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" ? Math.abs(errno) : undefined;
}
