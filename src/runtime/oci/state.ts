// The OCI runtime's state: one directory per container under --root
// (default /run/diyc-oci), claimed with mkdir, locked with flock on the
// directory itself for every command that changes it, and written
// atomically. It holds the init's pid with its start time (so a reused pid
// is never the container), the compiled configuration (for exec), and the
// start barrier, exec.fifo. The status is worked out from those facts each
// time (runtime-spec runtime.md#state), never stored:
//   created  the init is alive and exec.fifo is still there;
//   running  the init is alive and start has consumed exec.fifo;
//   paused   running, with its freezer cgroup frozen;
//   stopped  the init is gone (a zombie counts as gone).

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DiycError, SyscallError, UsageError } from "../../linux/errors";
import { LOCK_EX, LOCK_UN, type Syscalls } from "../../linux/syscalls";
import type { Spec } from "../../spec/oci";
import { readJsonIfExists, writeJsonAtomic } from "../../store/atomic";
import { isAlive, type ProcessIdentity } from "../../linux/process-identity";

export const DEFAULT_OCI_ROOT = "/run/diyc-oci";
export const OCI_VERSION = "1.0.2";

/** Container ids: what podman (64 hex digits) and containerd (names) use, and safe as a directory name. */
const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,127}$/;

export interface OciContext {
  /** --root: the state directory. */
  root: string;
  syscalls: Syscalls;
  /** --debug: one line per step. */
  debug?: (line: string) => void;
}

/** Where a container's cgroup is: PARENT/NAME in every hierarchy. */
export interface CgroupPlace {
  parent: string;
  name: string;
}

export interface OciContainerState {
  id: string;
  bundle: string;
  rootfs: string;
  createdAt: string;
  init: ProcessIdentity;
  cgroup: CgroupPlace;
  /** The configuration as compiled: exec joins it, delete runs its poststop hooks. */
  spec: Spec;
}

export type OciStatus = "creating" | "created" | "running" | "paused" | "stopped";

export function validateId(id: string | undefined): string {
  if (id === undefined || id === "") throw new UsageError("a container id is required");
  if (!ID_PATTERN.test(id)) throw new UsageError(`invalid container id ${JSON.stringify(id)}: use 1-128 characters [a-zA-Z0-9_.+-], starting with a letter or digit`);
  return id;
}

export function containerPaths(root: string, id: string) {
  const dir = join(root, id);
  return { dir, state: join(dir, "state.json"), fifo: join(dir, "exec.fifo"), hookState: join(dir, "hook-state.json") };
}

export class NotFoundError extends DiycError {}

/** The lock on a container's directory, held by every command that changes it. */
export class OciLock {
  private constructor(private readonly syscalls: Syscalls, private fd: number, private readonly dir: string) {}

  static take(syscalls: Syscalls, dir: string): OciLock {
    const fd = openSync(dir, "r");
    try {
      syscalls.flock(fd, LOCK_EX, dir);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new OciLock(syscalls, fd, dir);
  }

  release(): void {
    if (this.fd < 0) return;
    try {
      this.syscalls.flock(this.fd, LOCK_UN, this.dir);
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** mkdir claims the id: a second create of the same id fails here, before anything is made. */
export function claimId(ctx: OciContext, id: string): string {
  mkdirSync(ctx.root, { recursive: true, mode: 0o711 });
  const { dir } = containerPaths(ctx.root, id);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`container ${id} already exists`);
    throw error;
  }
  return dir;
}

export function readContainer(ctx: OciContext, id: string): OciContainerState {
  const paths = containerPaths(ctx.root, validateId(id));
  const state = readJsonIfExists<OciContainerState>(paths.state);
  if (state === undefined) throw new NotFoundError(`container ${id} does not exist`);
  return state;
}

export function writeContainer(ctx: OciContext, state: OciContainerState): void {
  writeJsonAtomic(containerPaths(ctx.root, state.id).state, state);
}

/** Runs fn with the container's lock; NotFoundError if it does not exist. */
export async function withContainer<T>(ctx: OciContext, id: string, fn: (state: OciContainerState) => Promise<T> | T): Promise<T> {
  const { dir } = containerPaths(ctx.root, validateId(id));
  let lock: OciLock;
  try {
    lock = OciLock.take(ctx.syscalls, dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`container ${id} does not exist`);
    throw error;
  }
  try {
    return await fn(readContainer(ctx, id));
  } finally {
    lock.release();
  }
}

export function statusOf(ctx: OciContext, state: OciContainerState, frozen: () => boolean = () => false): OciStatus {
  if (!isAlive(state.init)) return "stopped";
  if (existsSync(containerPaths(ctx.root, state.id).fifo)) return "created";
  return frozen() ? "paused" : "running";
}

/** The runtime-spec's state document (runtime.md#state), as `state` prints it. */
export function stateDocument(ctx: OciContext, state: OciContainerState, status: OciStatus) {
  return {
    ociVersion: OCI_VERSION,
    id: state.id,
    status,
    // The spec: pid is required while created or running; runc prints 0 once stopped.
    pid: status === "stopped" ? 0 : state.init.pid,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.createdAt,
    annotations: state.spec.annotations ?? {},
    owner: "",
  };
}

/** Every container id under the root (directories with a state file). */
export function listIds(ctx: OciContext): string[] {
  let names: string[];
  try {
    names = readdirSync(ctx.root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names.filter((n) => ID_PATTERN.test(n) && existsSync(containerPaths(ctx.root, n).state)).sort();
}

export function removeContainerDir(ctx: OciContext, id: string): void {
  rmSync(containerPaths(ctx.root, id).dir, { recursive: true, force: true });
}

export function isSyscallErrno(error: unknown, errno: number): boolean {
  return error instanceof SyscallError && error.errno === errno;
}
