// bun:ffi bindings to the C library, for the few system calls Bun has no API for.
//
// Why errno is read the way it is: errno is a thread-local int in libc. Bun runs
// its own code (allocation, GC, I/O threads) between our statements, and that
// code may call libc and overwrite errno. We look up this thread's errno address
// once, and read it immediately after the call returns, before anything else
// runs on this thread. Every binding goes through `check`, so a failure always
// becomes a SyscallError carrying the call, the errno and the path.
//
// Only the main thread calls these functions: Bun runs JavaScript on one
// thread, and namespace-changing calls (setns) apply to the calling thread only.

import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { SyscallError } from "./errors";

const { i32, u32, u64, i64, ptr, cstring } = FFIType;

const lib = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: ptr },
  socketpair: { args: [i32, i32, i32, ptr], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  kill: { args: [i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  mknod: { args: [cstring, u32, u64], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  send: { args: [i32, ptr, u64, i32], returns: i32 },
  recv: { args: [i32, ptr, u64, i32], returns: i32 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  getuid: { args: [], returns: u32 },
  getpgrp: { args: [], returns: i32 },
  isatty: { args: [i32], returns: i32 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  memfd_create: { args: [cstring, u32], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  pthread_sigmask: { args: [i32, ptr, ptr], returns: i32 },
  execv: { args: [cstring, ptr], returns: i32 },
  waitpid: { args: [i32, ptr, i32], returns: i32 },
  lsetxattr: { args: [cstring, cstring, ptr, u64, i32], returns: i32 },
  // For system calls libc has no wrapper for (bpf). Variadic in C; every
  // argument here is an integer or a pointer, passed in registers either way.
  syscall: { args: [i64, i32, ptr, u32], returns: i64 },
});

export const symbols = lib.symbols;

// The address of errno for the main thread; stable for the life of the thread.
const errnoAddress = lib.symbols.__errno_location() as Pointer;

/** This thread's errno. Call it right after the failing call, nothing in between. */
export function lastErrno(): number {
  return read.i32(errnoAddress, 0);
}

/**
 * Turn a libc return value into a result or a SyscallError.
 * Usage: check("flock", symbols.flock(fd, op), path)
 * The call is evaluated as an argument, so errno is read right after it.
 */
export function check(syscall: string, result: number, path?: string, flags?: string): number {
  if (result === -1) throw new SyscallError(syscall, lastErrno(), path, flags);
  return result;
}

/** A C string argument for bun:ffi: UTF-8 bytes with a terminating NUL. */
export function cString(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}
