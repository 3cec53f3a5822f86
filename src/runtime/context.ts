// What every runtime operation is given: the store, the kernel interface,
// the tracer, how to run diyc again, images and cgroups. Passed explicitly,
// never global (shared/design.md §4), so tests can hand in their own.

import type { CgroupManager } from "../cgroups/index";
import type { Syscalls } from "../linux/syscalls";
import type { Trace } from "../linux/trace";
import type { Store } from "../store/store";
import type { SubidFiles } from "./userns";
import type { StartRecording } from "./prepared";

export interface RuntimeContext {
  store: Store;
  syscalls: Syscalls;
  /** The -v trace; undefined unless -v. */
  trace?: Trace;
  /** How to run diyc again (the monitor's cleanup hook): absolute paths. */
  diycCommand: string[];
  /**
   * Resolves an image to its layer directories, top first (overlay's
   * lowerdir order), recording that `container` uses it; or throws.
   */
  imageLayers: (image: string, container: string) => Promise<string[]>;
  /** Where the subordinate ids for --userns=auto are listed (default /etc/subuid, /etc/subgid). */
  subidFiles?: SubidFiles;
  /** The host's cgroup driver (v1, v2 or hybrid), detected on first use. */
  cgroups: () => CgroupManager;
  /** A run whose host steps are being recorded for the front (prepared.ts). */
  recording?: StartRecording;
}

/**
 * diyc run again on this store and network registry (the monitor's cleanup
 * hook, diyc-wait's `_finish`): `args` follow the global options.
 */
export function diycAgain(ctx: Pick<RuntimeContext, "diycCommand" | "store">, args: string[]): string[] {
  return [...ctx.diycCommand, "--root", ctx.store.root, "--networks", ctx.store.networkDir, ...args];
}
