// Directory-tree helpers for the image store: size on disk, and removal that
// copes with the read-only directories images contain.

import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runAsNamespaceRoot, type RootlessIdentity } from "../linux/rootless";

/** Size on disk and entry count, without following symlinks; hard-linked files counted once. */
export function measureTree(root: string): { size: number; entries: number } {
  const seenInodes = new Set<string>();
  let size = 0;
  let entries = 0;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop()!;
    const stats = lstatSync(path);
    if (path !== root) entries++;
    const inode = `${stats.dev}:${stats.ino}`;
    if (!seenInodes.has(inode)) {
      seenInodes.add(inode);
      size += stats.blocks * 512;
    }
    if (stats.isDirectory()) for (const child of readdirSync(path)) pending.push(join(path, child));
  }
  return { size, entries };
}

/**
 * rm -rf that also copes with directories an image made read-only (mode 0555
 * stops an unprivileged owner from deleting what is inside).
 */
export function removeTree(path: string, rootless?: RootlessIdentity): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (error) {
    // Rootless: files of the user's subordinate ids (an image's, a container's)
    // can be removed only by root of a user namespace with the user's map.
    if (rootless) return runAsNamespaceRoot(rootless, [RM, "-rf", "--", path]);
    makeDirectoriesWritable(path);
    rmSync(path, { recursive: true, force: true });
  }
}

const RM = "/bin/rm";

function makeDirectoriesWritable(path: string): void {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) return;
  chmodSync(path, 0o700);
  for (const child of readdirSync(path)) makeDirectoriesWritable(join(path, child));
}
