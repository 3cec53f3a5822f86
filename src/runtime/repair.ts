// Repairs of what a killed diyc left in a container's directory, done by the
// next command that holds the container's lock.

import { rmSync } from "node:fs";
import { readDirIfExists } from "../store/atomic";
import { join } from "node:path";
import { identify } from "../linux/process-identity";

/**
 * A reused container's directory (run or start of an exited one) may hold
 * temporary files of a diyc killed while writing them ("container.json.tmp-PID"):
 * those of processes that are gone are removed. The caller holds the lock.
 */
export function removeStaleTempFiles(dir: string): void {
  for (const entry of readDirIfExists(dir)) {
    const match = /\.tmp-(\d+)$/.exec(entry);
    if (match && !identify(Number(match[1]))) rmSync(join(dir, entry), { force: true });
  }
}
