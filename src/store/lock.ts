// One flock(2) per container, taken by every command that changes it.
//
// The lock file goes away with its container: the holder that finds the
// container's directory gone at release unlinks the file while it still holds
// the lock. That opens the classic race of unlinking a lock file: a waiter
// may have opened the old file and be blocked on its inode, and gets the lock
// on that unlinked inode once we release, while a newcomer creates and locks
// a new file of the same name. So every taker checks, once it holds the
// flock, that its fd is still the file at the path (same device and inode);
// if not, it lets go and tries again on the current file. Only one process
// can hold the lock on the inode that is at the path, so the lock stays
// exclusive.

import { closeSync, existsSync, fstatSync, mkdirSync, openSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { Errno, SyscallError } from "../linux/errors";
import { LOCK_EX, LOCK_NB, LOCK_UN, type Syscalls } from "../linux/syscalls";
import type { HostStepRecorder } from "./recording";
import type { Store } from "./store";

export class ContainerLock {
  private constructor(
    private readonly syscalls: Syscalls,
    private fd: number,
    readonly path: string,
    /** The container's directory: when it is gone at release, so is the lock file. */
    private readonly containerDir: string,
    /** A recorded run's (runtime/prepared.ts): the lock and its release are steps of it. */
    private readonly recorder?: HostStepRecorder,
  ) {}

  /** Blocks until this process holds the container's lock. */
  static acquire(store: Store, name: string, syscalls: Syscalls, recorder?: HostStepRecorder): ContainerLock {
    recorder?.add("lock", store.containerLock(name), store.containerDir(name));
    return ContainerLock.take(store, name, syscalls, LOCK_EX, recorder)!;
  }

  /** The lock if nobody holds it, else undefined (another diyc is working on the container). */
  static tryAcquire(store: Store, name: string, syscalls: Syscalls): ContainerLock | undefined {
    return ContainerLock.take(store, name, syscalls, LOCK_EX | LOCK_NB);
  }

  private static take(store: Store, name: string, syscalls: Syscalls, operation: number, recorder?: HostStepRecorder): ContainerLock | undefined {
    const path = store.containerLock(name);
    for (;;) {
      const fd = openSync(path, "a", 0o600);
      try {
        syscalls.flock(fd, operation, path);
      } catch (error) {
        closeSync(fd);
        if ((operation & LOCK_NB) && error instanceof SyscallError && error.errno === Errno.EWOULDBLOCK) return undefined;
        throw error;
      }
      if (isFileAt(fd, path)) return new ContainerLock(syscalls, fd, path, store.containerDir(name), recorder);
      // The holder we waited for removed the file (its container was removed):
      // this inode is nobody's lock any more. Take the current one.
      closeSync(fd);
    }
  }

  release(): void {
    if (this.fd < 0) return;
    this.recorder?.add("unlock", this.path);
    if (!existsSync(this.containerDir)) {
      // Unlinked while held: see the top of the file for why that is safe.
      try {
        unlinkSync(this.path);
      } catch {
        // best effort: a lock file left behind is only a file; the next holder removes it
      }
    }
    this.syscalls.flock(this.fd, LOCK_UN, this.path);
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** True if `fd` is the file now at `path` (not an unlinked or replaced one). */
function isFileAt(fd: number, path: string): boolean {
  const held = fstatSync(fd);
  try {
    const current = statSync(path);
    return current.ino === held.ino && current.dev === held.dev;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false; // unlinked
    throw error;
  }
}

/** Runs `fn` holding the container's lock; releases it however `fn` ends. */
export async function withContainerLock<T>(
  store: Store, name: string, syscalls: Syscalls, fn: () => Promise<T> | T, recorder?: HostStepRecorder,
): Promise<T> {
  const lock = ContainerLock.acquire(store, name, syscalls, recorder);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Runs `fn` holding an exclusive flock on `path` (made, with its directory,
 * if missing: mode 0600 in a 0700 directory). A lock file that lives as long
 * as its directory, unlike a container's: nothing unlinks it. Closing the
 * only fd releases the lock, however `fn` ends.
 */
export function withFileLock<T>(path: string, syscalls: Syscalls, fn: () => T): T {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, "a", 0o600);
  try {
    syscalls.flock(fd, LOCK_EX, path);
    return fn();
  } finally {
    closeSync(fd);
  }
}
