// Names: containers on one network find each other by name through a hosts
// file per container, STORE/containers/NAME/hosts, which the runtime
// bind-mounts on /etc/hosts. No DNS server is needed.
//
// The files are rewritten in place (open with O_TRUNC, write), never replaced
// by rename: a bind mount pins the inode, so a renamed-in file would never be
// seen inside a running container. A reader may briefly see a short file;
// resolvers read /etc/hosts per lookup, so the next lookup sees it whole.
//
// Rewrites are serialized by an flock on the network, so the last writer always
// wrote from the latest set of leases.

import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { linuxSyscalls } from "../linux/syscalls";
import { withFileLock } from "../store/lock";
import { readIfExists } from "../store/atomic";
import { Store } from "../store/store";
import { listLeases, networkStateDir, ownerRoot, type Lease } from "./ipam";

const LOCALHOST_LINES = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];

export interface HostsEntry {
  ip: string;
  names: string[];
}

/**
 * Every container's /etc/hosts, whatever its network: localhost, then one
 * line per address. On a bridge that is every container of the network (its
 * own line holds its name and hostname); otherwise the container's own
 * hostname on 127.0.1.1, as Debian's installer writes it.
 */
export function hostsFileContent(entries: HostsEntry[]): string {
  return [...LOCALHOST_LINES, ...entries.map((e) => `${e.ip}\t${[...new Set(e.names)].join(" ")}`)].join("\n") + "\n";
}

/** A network's hosts entries: each lease's address with the container's name and hostname. */
export function leaseEntries(leases: Lease[]): HostsEntry[] {
  return leases.map((l) => ({ ip: l.ip, names: l.hostname ? [l.container, l.hostname] : [l.container] }));
}

/** A container alone (the host's network, or none): its hostname on 127.0.1.1. */
export function standaloneEntries(hostname: string): HostsEntry[] {
  return [{ ip: "127.0.1.1", names: [hostname] }];
}

export function hostsFilePath(store: Store, container: string): string {
  return join(store.containerDir(container), "hosts");
}

/** Runs `fn` holding the network's lock (a file that is never deleted). */
export function withNetworkLock<T>(store: Store, network: string, fn: () => T): T {
  return withFileLock(join(networkStateDir(store, network), "lock"), linuxSyscalls, fn);
}

/**
 * Rewrites the hosts file of every container leasing an address on `network`.
 * Containers whose directory does not exist (not created by the runtime) are
 * skipped: this module never creates container directories. Returns the
 * containers whose file was written.
 */
export function writeHostsFiles(store: Store, cfg: { name: string }): string[] {
  return withNetworkLock(store, cfg.name, () => {
    const leases = listLeases(store, cfg.name);
    const content = hostsFileContent(leaseEntries(leases));
    const written: string[] = [];
    for (const lease of leases) {
      // Containers of every store on the network: each store keeps its own files.
      const owner = new Store(ownerRoot(store, lease), store.networkDir);
      const { container } = lease;
      if (!existsSync(owner.containerDir(container))) continue;
      // writeFileSync opens with O_TRUNC and writes: same inode, so a bind
      // mount of this file sees the new content. The container's own extra
      // lines (--add-host), which the runtime keeps beside it, come last.
      const extra = readIfExists(join(owner.containerDir(container), "hosts.extra")) ?? "";
      writeFileSync(hostsFilePath(owner, container), content + extra, { mode: 0o644 });
      written.push(container);
    }
    return written;
  });
}
