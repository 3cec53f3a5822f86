// File operations on cgroupfs, behind an interface.
//
// Every cgroup operation diyc does is one of five file operations, plus, on
// v2, attaching a device program to a cgroup's directory. Drivers get
// a CgroupFs passed in: `hostCgroupFs` does them on the real filesystem, and
// `MimicCgroupFs` (./mimic.ts) does them on a plain temporary directory while
// imitating what cgroupfs does on mkdir (the kernel fills a new cgroup with its
// control files). `tracedCgroupFs` wraps either one to log each change, which
// is what `diyc -v` prints.

import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import { attachDeviceProgram, loadDeviceProgram } from "../linux/bpf";
import { Errno, SyscallError } from "../linux/errors";
import { CgroupError, errnoOf } from "./errors";
import type { DeviceProgram } from "./v2/devices";

export interface CgroupFs {
  /** mkdir(2), not recursive: EEXIST is an error, so two creators never share a cgroup. */
  mkdir(path: string): void;
  /** mkdir(2) of a cgroup that is shared (diyc's parent, a side hierarchy's level): EEXIST is fine. */
  ensureDir(path: string): void;
  /**
   * When `path` holds nothing (a new v1 cpuset's cpus and mems), writes it
   * what `from` holds (its parent's): the kernel refuses tasks in an empty
   * cpuset. One operation, so a recording of the steps (runtime/prepared.ts)
   * keeps the condition instead of the value seen once.
   */
  copyIfEmpty(path: string, from: string): void;
  /**
   * v2: turns on, in `dir`'s cgroup.subtree_control, those of `wanted` that
   * `dir` offers (cgroup.controllers) and has not enabled yet. One operation,
   * for the same reason as copyIfEmpty.
   */
  enableControllers(dir: string, wanted: readonly string[]): void;
  /** rmdir(2). On cgroupfs this removes a cgroup with no processes and no children. */
  rmdir(path: string): void;
  /** One write(2) of `value` to an existing control file. */
  write(path: string, value: string): void;
  read(path: string): string;
  exists(path: string): boolean;
  /** v2: loads a device program (./v2/devices.ts) and attaches it to the cgroup at `path`. */
  attachDeviceProgram(path: string, program: DeviceProgram): void;
}

/** The operations a CgroupFs does itself; the others are made of them (withDerivedOps). */
export type CgroupFsPrimitives = Omit<CgroupFs, "ensureDir" | "copyIfEmpty" | "enableControllers">;

/**
 * A CgroupFs whose ensureDir, copyIfEmpty and enableControllers are made of
 * its own mkdir, read and write (so a wrapper that traces or fails those sees
 * them). A recording (runtime/prepared.ts) keeps them as operations instead.
 */
export function withDerivedOps(fs: CgroupFsPrimitives): CgroupFs {
  const full: CgroupFs = Object.assign(fs, {
    ensureDir: (path: string) => ensureDirWith(full, path),
    copyIfEmpty: (path: string, from: string) => copyIfEmptyWith(full, path, from),
    enableControllers: (dir: string, wanted: readonly string[]) => enableControllersWith(full, dir, wanted),
  });
  return full;
}

export const hostCgroupFs: CgroupFs = withDerivedOps({
  mkdir(path) {
    attempt("mkdir", path, () => mkdirSync(path, 0o755));
  },
  rmdir(path) {
    attempt("rmdir", path, () => rmdirSync(path));
  },
  write(path, value) {
    // No O_CREAT: a control file the kernel does not have must fail (ENOENT),
    // not be created. No read access either: some files (devices.allow) are
    // write-only and cgroupfs refuses O_RDWR on them. (Node and Bun add
    // O_CLOEXEC to every open themselves.) One write(2) per value,
    // because the kernel parses each write on its own.
    attempt("write", path, () => {
      const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
      try {
        writeSync(fd, Buffer.from(value));
      } finally {
        closeSync(fd);
      }
    });
  },
  read(path) {
    return attempt("read", path, () => readFileSync(path, "utf8"));
  },
  exists(path) {
    return existsSync(path);
  },
  attachDeviceProgram(path, program) {
    try {
      const cgroupFd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        const programFd = loadDeviceProgram(program.instructions, path);
        try {
          attachDeviceProgram(cgroupFd, programFd, path);
        } finally {
          closeSync(programFd);
        }
      } finally {
        closeSync(cgroupFd);
      }
    } catch (error) {
      // `cgroup bpf /sys/fs/cgroup/diyc/web: operation not permitted (EPERM) [bpf BPF_PROG_ATTACH]`;
      // an error without an errno (no bpf syscall on this architecture) keeps its own message.
      const errno = errnoOf(error);
      if (errno === undefined) throw error;
      throw new CgroupError("bpf", path, errno, error instanceof SyscallError ? error.syscall : "open", { cause: error });
    }
  },
});

/** ensureDir over a CgroupFs's own mkdir. */
export function ensureDirWith(fs: CgroupFsPrimitives, path: string): void {
  try {
    fs.mkdir(path);
  } catch (error) {
    if (!(error instanceof CgroupError && error.errno === Errno.EEXIST)) throw error;
  }
}

/** copyIfEmpty over a CgroupFs's own read and write. */
export function copyIfEmptyWith(fs: CgroupFsPrimitives, path: string, from: string): void {
  if (fs.read(path).trim() === "") fs.write(path, fs.read(from).trim());
}

/** The words of a cgroup file (cgroup.controllers, cgroup.subtree_control). */
export function cgroupWords(fs: CgroupFsPrimitives, path: string): Set<string> {
  return new Set(fs.read(path).split(/\s+/).filter((w) => w !== ""));
}

/** enableControllers over a CgroupFs's own read and write. */
export function enableControllersWith(fs: CgroupFsPrimitives, dir: string, wanted: readonly string[]): void {
  const available = cgroupWords(fs, join(dir, "cgroup.controllers"));
  const enabled = cgroupWords(fs, join(dir, "cgroup.subtree_control"));
  const missing = wanted.filter((name) => available.has(name) && !enabled.has(name));
  if (missing.length > 0) fs.write(join(dir, "cgroup.subtree_control"), missing.map((n) => `+${n}`).join(" "));
}

function attempt<T>(op: "mkdir" | "rmdir" | "write" | "read", path: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof CgroupError) throw error;
    throw new CgroupError(op, path, errnoOf(error), undefined, { cause: error });
  }
}

/** A CgroupFs that reports every change (mkdir, rmdir, write) to `log` before doing it. */
export function tracedCgroupFs(inner: CgroupFs, log: (line: string) => void): CgroupFs {
  // Its ensureDir, copyIfEmpty and enableControllers go through its own mkdir and write: traced.
  return withDerivedOps({
    mkdir(path) {
      log(`cgroup mkdir ${path}`);
      inner.mkdir(path);
    },
    rmdir(path) {
      log(`cgroup rmdir ${path}`);
      inner.rmdir(path);
    },
    write(path, value) {
      log(`cgroup write ${path} ${JSON.stringify(value)}`);
      inner.write(path, value);
    },
    read: (path) => inner.read(path),
    exists: (path) => inner.exists(path),
    attachDeviceProgram(path, program) {
      log(`cgroup bpf: attach a device program (${program.rules} allow rules, ${program.instructions.length / 8} instructions) to ${path}`);
      inner.attachDeviceProgram(path, program);
    },
  });
}

/** Reads a control file holding one integer, or "max" (returned as undefined = no limit). */
export function readLimit(fs: CgroupFs, path: string): number | undefined {
  const text = fs.read(path).trim();
  if (text === "max") return undefined;
  return parseNumber(path, text);
}

export function readNumber(fs: CgroupFs, path: string): number {
  return parseNumber(path, fs.read(path).trim());
}

function parseNumber(path: string, text: string): number {
  const n = Number(text);
  if (text === "" || !Number.isFinite(n)) {
    throw new CgroupError("read", path, undefined, `expected a number, found ${JSON.stringify(text)}`);
  }
  return n;
}

/** Parses "key value" lines (memory.stat, memory.events, memory.oom_control, cpu.stat). */
export function readKeyed(fs: CgroupFs, path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of fs.read(path).split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) out.set(key, Number(value));
  }
  return out;
}

/** Wait `ms` without yielding: cgroup set-up is synchronous, between clone and release. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * rmdir that tolerates what a cgroup's end looks like: ENOENT means it is gone
 * already, and EBUSY means the last process has exited but the kernel has not
 * finished releasing it (a zombie not yet reaped, a css going offline), so we
 * retry for up to `patienceMs`.
 */
export function removeCgroupDir(fs: CgroupFs, path: string, patienceMs = 2000): void {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      fs.rmdir(path);
      return;
    } catch (error) {
      if (!(error instanceof CgroupError)) throw error;
      if (error.errno === Errno.ENOENT) return; // already gone
      if (error.errno !== Errno.EBUSY || Date.now() >= deadline) throw error;
      sleepSync(20);
    }
  }
}

/**
 * Runs `step`, something done in diyc's shared parent cgroup, again after
 * `remake` when the parent vanished under it. Each container's release
 * removes the parent once it is empty (removeParent), and with containers
 * started side by side that can fall between our mkdir of the parent and of
 * our own directory in it (ENOENT), or on a read of a parent's file (ENODEV:
 * the files of a removed cgroup). Once our directory is in it, the parent is
 * not empty and stays. The bound only stops a parent that vanishes every time.
 */
export function remakingVanishedParent<T>(step: () => T, remake: () => void, attempts = 20): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return step();
    } catch (error) {
      const vanished = error instanceof CgroupError && (error.errno === Errno.ENOENT || error.errno === Errno.ENODEV);
      if (!vanished || attempt >= attempts) throw error;
      remake();
    }
  }
}

/**
 * Makes `dirs` in order (each may exist already) and moves `pid` into the
 * last: how a process joins a cgroup diyc does not otherwise manage (the v1
 * freezer, OCI's side hierarchies).
 */
export function joinCgroupDirs(fs: CgroupFs, dirs: string[], pid: number): void {
  const parents = dirs.slice(0, -1);
  const last = dirs.at(-1)!;
  const makeParents = () => {
    for (const dir of parents) fs.ensureDir(dir);
  };
  makeParents();
  // A shared parent another release removed between its mkdir and ours: made again, as the managers do.
  remakingVanishedParent(() => fs.ensureDir(last), makeParents);
  fs.write(join(last, "cgroup.procs"), String(pid));
}

