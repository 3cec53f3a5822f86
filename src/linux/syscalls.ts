// The Syscalls interface: the process-level kernel calls of the runtime
// (socketpair, flock, kill, setns, mknod, memfd, terminal queries) go through
// an object of this type, passed in explicitly. `linuxSyscalls` calls the
// kernel; `RecordingSyscalls` (src/linux/recording.ts) records calls and can
// inject an errno, for unit tests that check error handling without root.
//
// Not everything goes through it, on purpose:
// - file I/O uses node:fs directly (and cgroup files go through CgroupFs,
//   src/cgroups/fs.ts, which has a mimic of its own for tests);
// - the netlink socket (src/network/netlink.ts), the bpf(2) loader
//   (src/linux/bpf.ts) and the netns switch (src/network/netns.ts) call libc
//   themselves: they are protocols of their own, tested through their
//   encoders and decoders without root and on the real kernel as root.

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { ptr, type Pointer } from "bun:ffi";
import { Errno, SyscallError } from "./errors";
import { check, cString, lastErrno, symbols } from "./libc";

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
  isatty(fd: number): boolean;
  /**
   * Whether we are in the foreground process group of a controlling terminal:
   * then Ctrl-C and Ctrl-\ signal our whole group (the helper included), not
   * only us.
   */
  inTerminalForeground(): boolean;
  /** A sealed, read-only in-memory copy of `bytes` (memfd_create + F_ADD_SEALS). */
  sealedMemfd(name: string, bytes: Uint8Array): number;
  /** sched_setattr(2) on another process: `attr` is a struct sched_attr. */
  schedSetattr(pid: number, attr: Uint8Array): void;
  /** ioprio_set(IOPRIO_WHO_PROCESS, pid, value). */
  ioprioSet(pid: number, value: number): void;
  /** poll(2) for POLLIN (data or EOF) on one fd, at most `timeoutMs`; "interrupted" when a signal came (EINTR). */
  pollReadable(fd: number, timeoutMs: number): "readable" | "timeout" | "interrupted";
  /** Blocks the signals in this thread (pthread_sigmask); returns those of them that were blocked already. */
  blockSignals(signals: number[]): number[];
  unblockSignals(signals: number[]): void;
  /** Sets or clears FD_CLOEXEC. */
  setCloseOnExec(fd: number, on: boolean): void;
  /** execv(2): replaces this process's program, with this environment. Returns only by throwing. */
  execv(path: string, argv: string[]): never;
  /** waitpid(pid, 0) for a child: its wait status, or undefined if it is no child of ours (ECHILD: reaped already). */
  waitChild(pid: number): number | undefined;
}

const TIOCGPGRP = 0x540f;
const O_CLOEXEC = 0o2000000; // not in node:fs constants
const SYS_IOPRIO_SET = 251;
const SYS_SCHED_SETATTR = 314;
const IOPRIO_WHO_PROCESS = 1;

const POLLIN = 1;
const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
/** glibc's sigset_t: 1024 bits. */
const SIGSET_BYTES = 128;

function sigset(signals: number[]): Uint8Array {
  const set = new Uint8Array(SIGSET_BYTES);
  for (const signal of signals) set[(signal - 1) >> 3]! |= 1 << ((signal - 1) & 7);
  return set;
}

function isMember(set: Uint8Array, signal: number): boolean {
  return (set[(signal - 1) >> 3]! & (1 << ((signal - 1) & 7))) !== 0;
}

/** pthread_sigmask returns its error instead of setting errno. */
function sigmask(how: number, signals: number[]): Uint8Array {
  const old = new Uint8Array(SIGSET_BYTES);
  const error = symbols.pthread_sigmask(how, sigset(signals), old);
  if (error !== 0) throw new SyscallError("pthread_sigmask", error);
  return old;
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
// SEAL | SHRINK | GROW | WRITE: nobody can change the contents again, not even root.
const ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

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
  isatty(fd) {
    return symbols.isatty(fd) === 1;
  },
  inTerminalForeground() {
    let tty: number;
    try {
      tty = openSync("/dev/tty", constants.O_RDONLY | constants.O_NOCTTY | O_CLOEXEC);
    } catch {
      return false; // ENXIO: no controlling terminal
    }
    try {
      const group = new Int32Array(1);
      return symbols.ioctl(tty, TIOCGPGRP, group) === 0 && group[0] === symbols.getpgrp();
    } finally {
      closeSync(tty);
    }
  },
  schedSetattr(pid, attr) {
    check("sched_setattr", Number(symbols.syscall(SYS_SCHED_SETATTR, pid, attr, 0)), `pid ${pid}`);
  },
  ioprioSet(pid, value) {
    // The binding's third parameter is a pointer; a pid travels in the same register.
    check("ioprio_set", Number(symbols.syscall(SYS_IOPRIO_SET, IOPRIO_WHO_PROCESS, pid as unknown as Pointer, value)), `pid ${pid}`);
  },
  pollReadable(fd, timeoutMs) {
    // struct pollfd { int fd; short events; short revents; }
    const pollfd = new Int32Array([fd, POLLIN]);
    const ready = symbols.poll(pollfd, 1, Math.max(0, Math.floor(timeoutMs)));
    if (ready === -1) {
      const errno = lastErrno();
      if (errno === Errno.EINTR) return "interrupted";
      throw new SyscallError("poll", errno, `fd ${fd}`);
    }
    return ready > 0 ? "readable" : "timeout";
  },
  blockSignals(signals) {
    const old = sigmask(SIG_BLOCK, signals);
    return signals.filter((signal) => isMember(old, signal));
  },
  unblockSignals(signals) {
    sigmask(SIG_UNBLOCK, signals);
  },
  setCloseOnExec(fd, on) {
    const flags = check("fcntl", symbols.fcntl(fd, F_GETFD, 0), `fd ${fd}`, "F_GETFD");
    check("fcntl", symbols.fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), `fd ${fd}`, "F_SETFD");
  },
  execv(path, argv) {
    const strings = argv.map(cString); // kept referenced until the call returns
    const pointers = new BigUint64Array(strings.length + 1);
    strings.forEach((s, k) => (pointers[k] = BigInt(ptr(s))));
    check("execv", symbols.execv(cString(path), pointers), path);
    throw new SyscallError("execv", 0, path); // unreachable: execv returns only with -1
  },
  waitChild(pid) {
    const status = new Int32Array(1);
    for (;;) {
      if (symbols.waitpid(pid, status, 0) === pid) return status[0];
      const errno = lastErrno();
      if (errno === Errno.ECHILD) return undefined;
      if (errno !== Errno.EINTR) throw new SyscallError("waitpid", errno, `pid ${pid}`);
    }
  },
  sealedMemfd(name, bytes) {
    const fd = check("memfd_create", symbols.memfd_create(cString(name), MFD_CLOEXEC | MFD_ALLOW_SEALING), name);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done);
      check("fcntl", symbols.fcntl(fd, F_ADD_SEALS, ALL_SEALS), name, "F_ADD_SEALS");
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return fd;
  },
};
