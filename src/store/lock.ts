// One flock(2) per container, taken by every command that changes it. The lock
// file is never deleted (src/store/store.ts), so two processes can never
// hold "the same" lock on two different inodes.

import { closeSync, openSync } from "node:fs";
import { Errno, SyscallError } from "../linux/errors";
import { LOCK_EX, LOCK_NB, LOCK_UN, type Syscalls } from "../linux/syscalls";
import type { Store } from "./store";

export class ContainerLock {
  private constructor(
    private readonly syscalls: Syscalls,
    private fd: number,
    readonly path: string,
  ) {}

  /** Blocks until this process holds the container's lock. */
  static acquire(store: Store, name: string, syscalls: Syscalls): ContainerLock {
    return ContainerLock.take(store, name, syscalls, LOCK_EX)!;
  }

  /** The lock if nobody holds it, else undefined (another diyc is working on the container). */
  static tryAcquire(store: Store, name: string, syscalls: Syscalls): ContainerLock | undefined {
    return ContainerLock.take(store, name, syscalls, LOCK_EX | LOCK_NB);
  }

  private static take(store: Store, name: string, syscalls: Syscalls, operation: number): ContainerLock | undefined {
    const path = store.containerLock(name);
    const fd = openSync(path, "a", 0o600);
    try {
      syscalls.flock(fd, operation, path);
    } catch (error) {
      closeSync(fd);
      if ((operation & LOCK_NB) && error instanceof SyscallError && error.errno === Errno.EWOULDBLOCK) return undefined;
      throw error;
    }
    return new ContainerLock(syscalls, fd, path);
  }

  release(): void {
    if (this.fd < 0) return;
    this.syscalls.flock(this.fd, LOCK_UN, this.path);
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** Runs `fn` holding the container's lock; releases it however `fn` ends. */
export async function withContainerLock<T>(store: Store, name: string, syscalls: Syscalls, fn: () => Promise<T> | T): Promise<T> {
  const lock = ContainerLock.acquire(store, name, syscalls);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
