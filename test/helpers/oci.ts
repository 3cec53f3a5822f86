// Shared by the tests that drive bin/diyc-oci through real clients (podman,
// containerd): a busybox image of the test's own, and the checks that
// nothing is left behind.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./diyc";

export const DIYC_OCI = join(REPO, "bin/diyc-oci");
export const OCI_ROOT = "/run/diyc-oci";

/** A busybox root filesystem with users root and user (1000), and /tmp. */
export function makeBusyboxRootfs(dir: string): void {
  mkdirSync(join(dir, "bin"), { recursive: true });
  for (const d of ["etc", "tmp", "proc", "sys", "dev", "root", "home/user"]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  copyFileSync("/bin/busybox", join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox");
  for (const applet of applets) symlinkSync("busybox", join(dir, "bin", applet));
  writeFileSync(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
  writeFileSync(join(dir, "etc/group"), "root:x:0:\nuser:x:1000:\n");
}

/** Mount points whose path or source mentions `text`. */
export function mountsMentioning(text: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes(text));
}

/** The cgroup directories named `name` at the top of any hierarchy. */
export function topCgroups(name: string): string[] {
  const candidates = [`/sys/fs/cgroup/${name}`, ...readdirSync("/sys/fs/cgroup").map((h) => `/sys/fs/cgroup/${h}/${name}`)];
  return candidates.filter((d) => existsSync(d));
}

/** Removes cgroup directories bottom-up (they hold no process once every container is gone). */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  try {
    execFileSync("rmdir", [dir]);
  } catch {
    // left for the test's own check to report
  }
}

/** Processes whose cgroup path (in any hierarchy) contains `text`. */
export function processesInCgroupsMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Live processes whose executable is `path` (a server the test started, e.g.). */
export function processesRunning(path: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === path) pids.push(Number(entry));
    } catch {
      // exited, or a kernel thread
    }
  }
  return pids;
}

/** diyc-oci's state directories of ids with this prefix. */
export function ociStateDirs(prefix: string, root = OCI_ROOT): string[] {
  try {
    return readdirSync(root).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}
