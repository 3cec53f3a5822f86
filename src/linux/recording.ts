// A Syscalls implementation for unit tests: it records every call and fails
// the calls a test chooses with the errno it chooses. It never touches the
// kernel, so tests that use it run without root. Integration tests use
// linuxSyscalls instead.

import { Errno, SyscallError } from "./errors";
import type { Syscalls } from "./syscalls";

export interface RecordedCall {
  name: keyof Syscalls;
  args: unknown[];
}

export class RecordingSyscalls implements Syscalls {
  readonly calls: RecordedCall[] = [];
  private failures = new Map<string, number>();
  private nextFd = 100;

  /** Make every later call to `name` fail with `errno`. */
  failWith(name: keyof Syscalls, errno: number): this {
    this.failures.set(name, errno);
    return this;
  }

  private record(name: keyof Syscalls, args: unknown[], path?: string): void {
    this.calls.push({ name, args });
    const errno = this.failures.get(name);
    if (errno !== undefined) throw new SyscallError(name, errno, path);
  }

  socketpair(): [number, number] {
    this.record("socketpair", []);
    return [this.nextFd++, this.nextFd++];
  }
  flock(fd: number, operation: number, path?: string): void {
    this.record("flock", [fd, operation], path);
  }
  kill(pid: number, signal: number): void {
    this.record("kill", [pid, signal]);
  }
  close(fd: number): void {
    this.record("close", [fd]);
  }
  mknod(path: string, mode: number, device: number): void {
    this.record("mknod", [path, mode, device], path);
  }
  setns(fd: number, nstype: number, path?: string): void {
    this.record("setns", [fd, nstype], path);
  }
  isatty(fd: number): boolean {
    this.record("isatty", [fd]);
    return false;
  }
  inTerminalForeground(): boolean {
    this.record("inTerminalForeground", []);
    return false;
  }
  schedSetattr(pid: number, attr: Uint8Array): void {
    this.record("schedSetattr", [pid, attr.length]);
  }
  ioprioSet(pid: number, value: number): void {
    this.record("ioprioSet", [pid, value]);
  }
  pollReadable(fd: number, timeoutMs: number): "readable" | "timeout" | "interrupted" {
    this.record("pollReadable", [fd, timeoutMs]);
    return "readable";
  }
  blockSignals(signals: number[]): number[] {
    this.record("blockSignals", [signals]);
    return [];
  }
  unblockSignals(signals: number[]): void {
    this.record("unblockSignals", [signals]);
  }
  setCloseOnExec(fd: number, on: boolean): void {
    this.record("setCloseOnExec", [fd, on]);
  }
  execv(path: string, argv: string[]): never {
    this.record("execv", [path, argv], path);
    throw new SyscallError("execv", Errno.ENOSYS, path); // a recording never replaces the test's process
  }
  waitChild(pid: number): number | undefined {
    this.record("waitChild", [pid]);
    return undefined;
  }
  sealedMemfd(name: string, bytes: Uint8Array): number {
    this.record("sealedMemfd", [name, bytes.length], name);
    return this.nextFd++;
  }
}
