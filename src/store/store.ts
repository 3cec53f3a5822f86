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
import { UsageError } from "../linux/errors";
import type { RootlessIdentity } from "../linux/rootless";

export const DEFAULT_ROOT = "/var/lib/diyc";

/**
 * The host's network registry: the default store's network directory, where
 * diyc always kept it, so an existing installation's networks and leases
 * stay where they are and every other store joins them.
 */
export const DEFAULT_NETWORKS = "/var/lib/diyc/network";

/**
 * The ordinary user a rootless store belongs to, and how diyc runs itself
 * again as root of a user namespace for the steps that need it (chown of an
 * image's files, linux/rootless.ts).
 */
export interface RootlessOwner extends RootlessIdentity {
  diycCommand: string[];
}

export class Store {
  /**
   * @param networks Where the host's networks are recorded (configs, leases,
   *   port claims): one directory shared by every store that uses the same
   *   bridges (see src/network/index.ts). Defaults to ROOT/network, a store
   *   on its own; the CLI passes the host-wide one (DEFAULT_NETWORKS).
   */
  constructor(
    readonly root: string,
    networks?: string,
    /**
     * Set when an ordinary user runs diyc (rootless, see linux/rootless.ts):
     * the store is theirs, and files in it may belong to their subordinate ids.
     */
    readonly rootless?: RootlessOwner,
  ) {
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

  /** Creates the top-level directories (cheap when they exist); returns them all (a run records them, runtime/prepared.ts). */
  ensure(): string[] {
    const dirs = [this.imagesDir, this.containersDir, this.locksDir];
    for (const dir of dirs) mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dirs;
  }
}

/**
 * The network registry chosen by --networks, else DIYC_NETWORKS, else the
 * host's. A rootless store keeps its own: the host's belongs to root, and an
 * ordinary user's containers use no host bridge (network/rootless.ts).
 */
export function resolveNetworkRegistry(flag: string | undefined, env: Record<string, string | undefined>, storeRoot: string, rootless: boolean): string {
  // Absolute: the monitor's cleanup hook runs diyc again from another directory.
  return resolve(flag ?? env.DIYC_NETWORKS ?? (rootless ? join(storeRoot, "network") : DEFAULT_NETWORKS));
}

/**
 * The store chosen by --root, else DIYC_ROOT, else /var/lib/diyc; for an
 * ordinary user $XDG_DATA_HOME/diyc (~/.local/share/diyc), as podman keeps
 * ~/.local/share/containers.
 */
export function resolveStoreRoot(flag: string | undefined, env: Record<string, string | undefined>, rootless: boolean): string {
  const chosen = flag ?? env.DIYC_ROOT;
  if (chosen !== undefined || !rootless) return resolve(chosen ?? DEFAULT_ROOT);
  if (env.XDG_DATA_HOME) return join(resolve(env.XDG_DATA_HOME), "diyc");
  if (!env.HOME) throw new UsageError("neither XDG_DATA_HOME nor HOME is set: say where the store is with --root DIR");
  return join(resolve(env.HOME), ".local", "share", "diyc");
}
