// Rootless image layers, second pass: the ids and security.* xattrs the
// extraction recorded (extract.ts, ExtractOptions.deferred) are applied by
// diyc run again as root of a user namespace with the user's map
// (linux/rootless.ts runAsNamespaceRoot), where chown to the user's
// subordinate ids is allowed. The list goes through a file in the layer's
// private staging directory: only this diyc writes there.

import { chmodSync, lchownSync, lstatSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../linux/errors";
import { runAsNamespaceRoot } from "../linux/rootless";
import { lsetxattr } from "../linux/xattr";
import type { RootlessOwner } from "../store/store";
import type { DeferredOwnership } from "./extract";

/** The internal command that applies a list: `diyc _own ROOT LIST`. */
export const OWN_COMMAND = "_own";

type Entry = [string, DeferredOwnership];

/** Applies `deferred` to the tree at `root` (a layer's staging root) from a user namespace. */
export function applyDeferredOwnership(owner: RootlessOwner, root: string, deferred: Map<string, DeferredOwnership>, listFile: string): void {
  if (deferred.size === 0) return;
  writeFileSync(listFile, JSON.stringify([...deferred]), { mode: 0o600 });
  try {
    runAsNamespaceRoot(owner, [...owner.diycCommand, OWN_COMMAND, root, listFile]);
  } finally {
    rmSync(listFile, { force: true });
  }
}

/**
 * The pass itself, in the user namespace: chown (never following a
 * symlink), chmod again (chown cleared setuid and setgid), then xattrs (file
 * capabilities name the namespace's root, so they come last). A path that a
 * later entry of the layer removed is skipped.
 */
export function applyOwnershipList(root: string, listFile: string): void {
  const entries = JSON.parse(readFileSync(listFile, "utf8")) as Entry[];
  for (const [path, record] of entries) {
    if (!path.startsWith(`${root}/`)) throw new UsageError(`${OWN_COMMAND}: ${path} is not under ${root}`);
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (!stats) continue;
    lchownSync(path, record.uid, record.gid);
    if (record.mode !== undefined && !stats.isSymbolicLink()) chmodSync(path, record.mode);
    for (const [name, value] of record.xattrs ?? []) lsetxattr(path, name, Buffer.from(value, "base64"));
  }
}

export const ownershipListFile = (staging: string) => join(staging, "ownership.json");
