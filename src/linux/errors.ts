// Errors shared by every module.
//
// diyc has one rule for errors: a user sees one line that names the step, the
// errno and the path, and diyc exits with a documented code. The classes here
// carry enough to print that line; src/cli/main.ts does the printing.

/** Exit codes, as docker, podman and runc use them. Documented in the README. */
export const ExitCode = {
  /** diyc itself failed: bad input, a missing image, a kernel error during set-up. */
  RuntimeError: 125,
  /** The command exists but could not be executed (EACCES, ENOEXEC, ...). */
  CannotExecute: 126,
  /** The command was not found in the container. */
  NotFound: 127,
} as const;

/** An error meant for the user: its message is the whole line diyc prints. */
export class DiycError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.RuntimeError,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DiycError";
  }
}

/** Bad input from the user (a name, an address, a limit, a flag). Nothing was created. */
export class UsageError extends DiycError {
  constructor(message: string) {
    super(message, ExitCode.RuntimeError);
    this.name = "UsageError";
  }
}

const errnoNames: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  7: ["E2BIG", "argument list too long"],
  8: ["ENOEXEC", "exec format error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  24: ["EMFILE", "too many open files"],
  26: ["ETXTBSY", "text file busy"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  32: ["EPIPE", "broken pipe"],
  34: ["ERANGE", "numerical result out of range"],
  36: ["ENAMETOOLONG", "file name too long"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  95: ["EOPNOTSUPP", "operation not supported"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "cannot assign requested address"],
  105: ["ENOBUFS", "no buffer space available"],
  110: ["ETIMEDOUT", "connection timed out"],
  111: ["ECONNREFUSED", "connection refused"],
};

/** "EPERM" for 1; "errno 200" for numbers we do not name. */
export function errnoName(errno: number): string {
  return errnoNames[errno]?.[0] ?? `errno ${errno}`;
}

/** "operation not permitted" for 1, as strerror(3) says it. */
export function errnoText(errno: number): string {
  return errnoNames[errno]?.[1] ?? `errno ${errno}`;
}

export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, ECHILD: 10, EAGAIN: 11, EACCES: 13, EEXIST: 17,
  ENOTDIR: 20, EINVAL: 22, ENOSPC: 28, ENOEXEC: 8, EBUSY: 16, ENOTEMPTY: 39, ENODEV: 19,
  EWOULDBLOCK: 11, ENOSYS: 38, EOPNOTSUPP: 95, ETIMEDOUT: 110, ECANCELED: 125,
} as const;

/** A failed system call: which call, which errno, on what path, with which flags. */
export class SyscallError extends DiycError {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly path?: string,
    readonly flags?: string,
  ) {
    const where = path === undefined ? "" : ` ${path}`;
    const how = flags === undefined ? "" : ` (${flags})`;
    super(`${syscall}${where}${how}: ${errnoText(errno)} (${errnoName(errno)})`);
    this.name = "SyscallError";
  }
}

/**
 * Any error as a DiycError: node:fs errors carry syscall, errno and path, so
 * they become a one-line SyscallError. Anything else (a bug) is wrapped as is.
 */
export function asDiycError(error: unknown, path?: string): DiycError {
  if (error instanceof DiycError) return error;
  const nodeError = error as NodeJS.ErrnoException;
  if (typeof nodeError?.errno === "number") {
    return new SyscallError(nodeError.syscall ?? "fs", Math.abs(nodeError.errno), nodeError.path ?? path);
  }
  return new DiycError(String((error as Error)?.message ?? error), undefined, { cause: error });
}

/** A node:fs error (errno, syscall, path) as a SyscallError; undefined for anything else. */
export function fsErrorAsSyscallError(error: unknown): SyscallError | undefined {
  return typeof (error as NodeJS.ErrnoException)?.errno === "number" && !(error instanceof DiycError)
    ? (asDiycError(error) as SyscallError)
    : undefined;
}
