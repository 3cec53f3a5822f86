// The Syscalls interface: every kernel call diyc's TypeScript makes goes
// through an object of this type, passed in explicitly. `linuxSyscalls` calls
// the kernel; `RecordingSyscalls` (src/linux/recording.ts) records calls and
// can inject an errno, for unit tests that check error handling without root.
//
// Only calls Bun has no API for are here. File I/O uses node:fs directly.

import { check, cString, symbols } from "./libc";

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

export interface Syscalls {
  /** socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC): both ends close on exec. */
  socketpair(): [number, number];
  flock(fd: number, operation: number, path?: string): void;
  kill(pid: number, signal: number): void;
  close(fd: number): void;
  mknod(path: string, mode: number, device: number): void;
  setns(fd: number, nstype: number, path?: string): void;
  umount2(path: string, flags: number): void;
  isatty(fd: number): boolean;
}

export const linuxSyscalls: Syscalls = {
  socketpair() {
    const fds = new Int32Array(2);
    check("socketpair", symbols.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
    return [fds[0]!, fds[1]!];
  },
  flock(fd, operation, path) {
    check("flock", symbols.flock(fd, operation), path);
  },
  kill(pid, signal) {
    check("kill", symbols.kill(pid, signal), `pid ${pid}`);
  },
  close(fd) {
    check("close", symbols.close(fd));
  },
  mknod(path, mode, device) {
    check("mknod", symbols.mknod(cString(path), mode, BigInt(device)), path);
  },
  setns(fd, nstype, path) {
    check("setns", symbols.setns(fd, nstype), path);
  },
  umount2(path, flags) {
    check("umount2", symbols.umount2(cString(path), flags), path);
  },
  isatty(fd) {
    return symbols.isatty(fd) === 1;
  },
};
