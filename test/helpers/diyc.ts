// Running bin/diyc and bin/nsexec from tests, as a user would, and checking
// afterwards that nothing was left behind.

import { expect } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { cgroupParentFor } from "../../src/runtime/limits";
import { Store } from "../../src/store/store";

export const REPO = resolve(import.meta.dir, "../..");
export const DIYC = join(REPO, "bin/diyc");
export const NSEXEC = join(REPO, "bin/nsexec");
export const HELPER = join(REPO, "native/build/diyc-helper");
export const isRoot = process.geteuid?.() === 0;

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A store of the test's own, under /tmp. */
export function tempStore(prefix = "diyc-test-"): string {
  return mkdtempSync(`/tmp/${prefix}`);
}

/**
 * The environment for running diyc on the test's store: the network registry
 * (shared by every store of the host by default) is the store's own, so a
 * test's networks, leases and port claims stay inside its store.
 */
export function diycEnv(root: string, env: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", DIYC_NETWORKS: join(root, "network"), ...env };
}

export function diyc(root: string, args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Result {
  const child = Bun.spawnSync([DIYC, "--root", root, ...args], {
    stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
    env: diycEnv(root, options.env),
  });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

export function nsexec(args: string[]): Result {
  const child = Bun.spawnSync([NSEXEC, ...args], { stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

/** Mount points whose path or source mentions `root`. */
export function mountsUnder(root: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes(root));
}

/** Live processes running the helper (monitors, or inits before exec): it runs from a sealed memfd. */
export function helperProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`).startsWith("/memfd:diyc-helper")) pids.push(Number(entry));
    } catch {
      // the process exited while we looked, or is a kernel thread
    }
  }
  return pids;
}

/** The host pids a `-v` run printed: "init is pid N on the host; monitor is pid M". */
export function pidsFromTrace(stderr: string): { init: number; monitor: number } | undefined {
  const match = /init is pid (\d+) on the host; monitor is pid (\d+)/.exec(stderr);
  return match ? { init: Number(match[1]), monitor: Number(match[2]) } : undefined;
}

export function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** The cgroup directories of a store's containers (its parent, in every hierarchy: v1's, a hybrid's unified one, or a v2 root's). */
export function storeCgroups(root: string): string[] {
  const parent = cgroupParentFor(new Store(root));
  const candidates = [`/sys/fs/cgroup/${parent}`, ...readdirSync("/sys/fs/cgroup").map((h) => `/sys/fs/cgroup/${h}/${parent}`)];
  return candidates.filter((d) => existsSync(d));
}

/**
 * Removes the store and proves nothing of it is left: containers still there
 * (a test that failed half-way) are removed with `rm -f` first, so their
 * processes and cgroups go too; then no mounts, no cgroups, no directory.
 */
export function removeStore(root: string): void {
  const containers = existsSync(join(root, "containers")) ? readdirSync(join(root, "containers")) : [];
  for (const name of containers) diyc(root, ["rm", "-f", name]);
  expect(mountsUnder(root)).toEqual([]);
  expect(storeCgroups(root)).toEqual([]);
  rmSync(root, { recursive: true, force: true });
  expect(existsSync(root)).toBe(false);
}

/**
 * Polls `check` every 20 ms until it holds; a throw counts as "not yet" (a
 * file may not exist yet). Throws after `timeoutMs`, naming `what` and the
 * check's last error, if any.
 */
export async function until(check: () => boolean, timeoutMs = 5000, what = "the condition"): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (check()) return;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? "" : ` (last: ${(last as Error).message})`}`);
    }
    await Bun.sleep(20);
  }
}

/** `diyc ps [-a] --format json` on the store: one object per container. */
export function psJson(root: string, all = true): Record<string, unknown>[] {
  return JSON.parse(diyc(root, ["ps", ...(all ? ["-a"] : []), "--format", "json"]).stdout) as Record<string, unknown>[];
}

/** A container's cgroup directories that exist: the v2 tree's and every v1 hierarchy's, under the store's parent or at the top. */
export function containerCgroups(root: string, name: string): string[] {
  const parent = cgroupParentFor(new Store(root));
  const hierarchies = readdirSync("/sys/fs/cgroup");
  const candidates = [`/sys/fs/cgroup/${parent}/${name}`, ...hierarchies.flatMap((h) => [`/sys/fs/cgroup/${h}/${parent}/${name}`, `/sys/fs/cgroup/${h}/${name}`])];
  return candidates.filter((d) => existsSync(d));
}
