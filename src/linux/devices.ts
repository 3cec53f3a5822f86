// Device numbers: glibc's makedev(3), the one encoding of dev_t that both the
// kernel and every libc use (a 12-bit major and a 20-bit minor, split across
// a 64-bit value). The plan's mknod and image extraction both use it.

import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function makeDevice(major: number, minor: number): number {
  const low = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12);
  return (low >>> 0) + Math.floor(major / 0x1000) * 2 ** 44;
}

export interface HostDevice {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
}

/** The kernel's dev_t, as node:fs reports it (rdev), back to major and minor (glibc's encoding). */
function splitDevice(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * The host's device nodes under /dev (not the ptys and the shared-memory and
 * message-queue directories, which a container has of its own): what
 * --privileged gives a container, as docker and podman do.
 */
export function hostDevices(root = "/dev"): HostDevice[] {
  const found: HostDevice[] = [];
  const skip = new Set(["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/ptmx", "/dev/console"]);
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return; // unreadable: left out
    }
    for (const entry of entries) {
      const path = join(dir, entry);
      if (skip.has(path)) continue;
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory() && depth < 4) walk(path, depth + 1);
      else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
        found.push({ path, type: stat.isCharacterDevice() ? "c" : "b", ...splitDevice(stat.rdev), fileMode: stat.mode & 0o7777 });
      }
    }
  };
  walk(root, 0);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

