// Where diyc keeps things. One directory holds everything, so `--root DIR` or
// DIYC_ROOT isolates a whole diyc (tests use this):
//
//   ROOT/                            default /var/lib/diyc
//     images/                        blobs, shared layers, records, names: see
//                                    src/image/layout.ts
//     containers/NAME/               claimed with mkdir(2): exactly one creator wins
//       container.json               the container's configuration (holds the OCI spec)
//       state.json                   pid + start time of the monitor and the container
//       exit.json                    written by the monitor when the container ends
//       upper/ work/ merged/         overlay: the container's own writable layer
//     locks/NAME.lock                flock(2) per container; never deleted, so a lock
//                                    cannot vanish under a waiter
//     network/                       leases and the like (src/network)
//     cgroups/                       nothing yet; cgroups live in /sys/fs/cgroup
//
// Runtime state sits in the store too, not in /run: status is always worked out
// again from pids and start times (src/runtime/status.ts), so a stale file after
// a reboot reads as "exited", never as "running".

import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_ROOT = "/var/lib/diyc";

export class Store {
  constructor(readonly root: string) {}

  get imagesDir(): string {
    return join(this.root, "images");
  }
  get containersDir(): string {
    return join(this.root, "containers");
  }
  get locksDir(): string {
    return join(this.root, "locks");
  }
  get networkDir(): string {
    return join(this.root, "network");
  }

  containerDir(name: string): string {
    return join(this.containersDir, name);
  }
  containerLock(name: string): string {
    return join(this.locksDir, `${name}.lock`);
  }

  /** Creates the top-level directories; cheap when they exist. */
  ensure(): void {
    for (const dir of [this.imagesDir, this.containersDir, this.locksDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
  }
}

/** The store chosen by --root, else DIYC_ROOT, else /var/lib/diyc. */
export function resolveStoreRoot(flag: string | undefined, env: Record<string, string | undefined>): string {
  return flag ?? env.DIYC_ROOT ?? DEFAULT_ROOT;
}
