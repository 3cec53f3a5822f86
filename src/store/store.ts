// Where diyc keeps things. One directory holds everything, so `--root DIR` or
// DIYC_ROOT isolates a whole diyc (tests use this):
//
//   ROOT/                            default /var/lib/diyc
//     images/                        blobs, shared layers, records, names: see
//                                    src/image/layout.ts
//     containers/NAME/               claimed with mkdir(2): exactly one creator wins
//       container.json               the container's configuration (holds the OCI spec)
//       state.json                   pid + start time of the monitor and the container
//       exit.json                    written by the monitor when the container ends, over
//       exit.json.reserve            the space diyc reserves for it at create
//       upper/ work/ merged/         overlay: the container's own writable layer
//     locks/NAME.lock                flock(2) per container; removed with the container,
//                                    safely (src/store/lock.ts re-checks the inode)
//     network/                       leases and the like (src/network); for the default
//                                    store, the host's network registry, which every
//                                    store uses unless --networks DIR says otherwise
//
// Runtime state sits in the store too, not in /run: status is always worked out
// again from pids and start times (src/runtime/status.ts), so a stale file after
// a reboot reads as "exited", never as "running".

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const DEFAULT_ROOT = "/var/lib/diyc";

/**
 * The host's network registry: the default store's network directory, where
 * diyc always kept it, so an existing installation's networks and leases
 * stay where they are and every other store joins them.
 */
export const DEFAULT_NETWORKS = "/var/lib/diyc/network";

export class Store {
  /**
   * @param networks Where the host's networks are recorded (configs, leases,
   *   port claims): one directory shared by every store that uses the same
   *   bridges (see src/network/index.ts). Defaults to ROOT/network, a store
   *   on its own; the CLI passes the host-wide one (DEFAULT_NETWORKS).
   */
  constructor(readonly root: string, networks?: string) {
    this.networks = networks ?? join(root, "network");
  }

  private readonly networks: string;

  get imagesDir(): string {
    return join(this.root, "images");
  }
  get containersDir(): string {
    return join(this.root, "containers");
  }
  get locksDir(): string {
    return join(this.root, "locks");
  }
  /** The network registry this store uses: shared with the other stores of the host by default. */
  get networkDir(): string {
    return this.networks;
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

/** The network registry chosen by --networks, else DIYC_NETWORKS, else the host's. */
export function resolveNetworkRegistry(flag: string | undefined, env: Record<string, string | undefined>): string {
  // Absolute: the monitor's cleanup hook runs diyc again from another directory.
  return resolve(flag ?? env.DIYC_NETWORKS ?? DEFAULT_NETWORKS);
}

/** The store chosen by --root, else DIYC_ROOT, else /var/lib/diyc. */
export function resolveStoreRoot(flag: string | undefined, env: Record<string, string | undefined>): string {
  return flag ?? env.DIYC_ROOT ?? DEFAULT_ROOT;
}
