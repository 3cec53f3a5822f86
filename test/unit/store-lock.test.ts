// The container lock's file is removed with its container (src/store/lock.ts).
// A waiter blocked on the old file must not end up holding a lock at the same
// time as a newcomer who locked the new file of the same name: real flock(2)
// between processes, no root needed.

import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { linuxSyscalls } from "../../src/linux/syscalls";
import { ContainerLock } from "../../src/store/lock";
import { Store } from "../../src/store/store";

let root: string;
let store: Store;

beforeEach(() => {
  root = mkdtempSync("/tmp/diyc-rl-lock-");
  store = new Store(root);
  store.ensure();
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const LOCK_MODULE = join(import.meta.dir, "../../src/store/lock.ts");

/** A process that takes the lock (blocking), says when it holds it, holds it `holdMs`, and says when it let go. */
function waiter(holdMs: number) {
  const script = `
    const { ContainerLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const { Store } = await import(${JSON.stringify(join(import.meta.dir, "../../src/store/store.ts"))});
    const { linuxSyscalls } = await import(${JSON.stringify(join(import.meta.dir, "../../src/linux/syscalls.ts"))});
    console.log("waiting");
    const lock = ContainerLock.acquire(new Store(${JSON.stringify(root)}), "x", linuxSyscalls);
    console.log("got " + Date.now());
    Bun.sleepSync(${holdMs});
    console.log("released " + Date.now());
    lock.release();
  `;
  return Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
}

test("release unlinks the lock file once the container is gone; a blocked waiter and a newcomer never hold it together", async () => {
  mkdirSync(store.containerDir("x"));
  const first = ContainerLock.acquire(store, "x", linuxSyscalls);
  const blocked = waiter(300);
  const output = new Response(blocked.stdout).text();
  Bun.sleepSync(300); // it has opened the file and waits in flock
  rmdirSync(store.containerDir("x")); // the container is removed under the lock ...
  first.release(); // ... so the release unlinks the file the waiter is blocked on
  // A newcomer, at once: it locks whichever file is at the path now.
  const newcomer = ContainerLock.acquire(store, "x", linuxSyscalls);
  const newcomerGot = Date.now();
  Bun.sleepSync(300);
  const newcomerReleased = Date.now();
  newcomer.release();
  expect(await blocked.exited).toBe(0);
  const lines = (await output).trim().split("\n");
  expect(lines[0]).toBe("waiting");
  const got = Number(lines[1]!.slice("got ".length));
  const released = Number(lines[2]!.slice("released ".length));
  // One after the other, in either order, never overlapping.
  expect(got >= newcomerReleased || released <= newcomerGot).toBe(true);
  // The container is gone, so whoever released last removed the file.
  expect(existsSync(store.containerLock("x"))).toBe(false);
});

test("a lock file stays while its container exists", () => {
  mkdirSync(store.containerDir("y"));
  ContainerLock.acquire(store, "y", linuxSyscalls).release();
  expect(existsSync(store.containerLock("y"))).toBe(true);
  expect(ContainerLock.tryAcquire(store, "y", linuxSyscalls)).toBeDefined();
});
