// --userns=auto: the container's root is not the host's root. Each container
// gets a range of 65536 ids of its own from the subordinate ids the host
// gives diyc (/etc/subuid and /etc/subgid: the user "diyc", else "root"), and
// its init runs in a user namespace that maps 0-65535 onto that range.
//
// The ranges in use are claimed in the network registry's directory, which
// every store on the host shares (like addresses): two containers never share
// a range, whatever their stores. A claim names its container and store, and
// is released with the container's other host resources (cleanup.ts).

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../linux/errors";
import { rangesFor, type IdRange } from "../linux/rootless";
import { claimExclusive, removeIfExists, sweepStaleClaims } from "../network/claim";
import { USERNS_SIZE } from "../spec/container-spec";
import type { IdMapping } from "../spec/oci";
import { readDirIfExists, readIfExists } from "../store/atomic";
import type { Store } from "../store/store";

const OWNERS = ["diyc", "root"];

export interface SubidFiles {
  subuid: string;
  subgid: string;
}

export const HOST_SUBID_FILES: SubidFiles = { subuid: "/etc/subuid", subgid: "/etc/subgid" };


/** The ranges /etc/subuid (or /etc/subgid) gives the first of OWNERS that has any. */
export function subordinateRanges(text: string): IdRange[] {
  for (const owner of OWNERS) {
    const ranges = rangesFor(text, [owner]);
    if (ranges.length > 0) return ranges;
  }
  return [];
}

function claimsDir(store: Store): string {
  return join(store.networkDir, ".userns");
}

/**
 * Claims a free range for `container`: a slice of USERNS_SIZE ids that both
 * the uid and the gid ranges hold (the same numbers for both, so files show
 * the same owner and group). Returns the host id that is the container's 0.
 */
export function claimIdRange(store: Store, container: string, files: SubidFiles = HOST_SUBID_FILES): number {
  const uids = subordinateRanges(readIfExists(files.subuid) ?? "");
  const gids = subordinateRanges(readIfExists(files.subgid) ?? "");
  const inside = (ranges: IdRange[], base: number) => ranges.some((r) => base >= r.start && base + USERNS_SIZE <= r.start + r.count);
  const dir = claimsDir(store);
  sweepStaleClaims(dir);
  for (const range of uids) {
    for (let base = range.start; base + USERNS_SIZE <= range.start + range.count; base += USERNS_SIZE) {
      if (!inside(gids, base)) continue;
      if (claimExclusive(dir, String(base), `${container}\n${store.root}\n`)) return base;
    }
  }
  throw new UsageError(
    `--userns=auto needs subordinate ids: no free range of ${USERNS_SIZE} in ${files.subuid} and ${files.subgid} for user diyc or root ` +
      `(add e.g. "diyc:1000000:6553600" to both)`,
  );
}

/** Gives back every range `container` of this store holds. Idempotent. */
export function releaseIdRanges(store: Store, container: string): void {
  const dir = claimsDir(store);
  for (const name of readDirIfExists(dir)) {
    if (!/^\d+$/.test(name)) continue;
    // The directory is the host's: another container may release its range meanwhile.
    const [owner, root] = (readIfExists(join(dir, name)) ?? "").split("\n");
    if (owner === container && root === store.root) removeIfExists(join(dir, name));
  }
}

/** Written by us, root on the host, while the init waits at CONTINUE. */
export function writeIdMaps(pid: number, uidMappings: IdMapping[] | undefined, gidMappings: IdMapping[] | undefined): void {
  const text = (mappings: IdMapping[]) => mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
  if (uidMappings) writeFileSync(`/proc/${pid}/uid_map`, text(uidMappings));
  if (gidMappings) writeFileSync(`/proc/${pid}/gid_map`, text(gidMappings));
}
