// Claiming a name in a directory, first come first served, across processes.
//
// The content is written to a private temporary file first and then hard-linked
// to the name: link(2) fails with EEXIST when the name exists, atomically, so
// exactly one claimer wins, and since the file was complete before it got its
// name, a reader never sees it half-written (O_EXCL + write would allow that).

import { linkSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { readDirIfExists } from "../store/atomic";
import { join } from "node:path";

/** Creates `dir/name` holding `content` unless it exists; true if we created it. */
export function claimExclusive(dir: string, name: string, content: string): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.claim-${process.pid}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, content, { mode: 0o644 });
  try {
    linkSync(tmp, join(dir, name));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Deletes a file; false if it was already gone (release is idempotent). */
export function removeIfExists(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

const CLAIM_TEMP = /^\.claim-(\d+)-[a-z0-9]*$/;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files of claimers that died between writing and
 * unlinking them (".claim-PID-*" of a pid that no longer exists). A live
 * claimer's file is left alone: it is about to link it. Returns how many went.
 */
export function sweepStaleClaims(dir: string): number {
  let removed = 0;
  for (const entry of readDirIfExists(dir)) {
    const match = CLAIM_TEMP.exec(entry);
    if (match && Number(match[1]) !== process.pid && !processExists(Number(match[1])) && removeIfExists(join(dir, entry))) removed++;
  }
  return removed;
}
