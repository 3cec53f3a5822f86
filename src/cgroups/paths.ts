// Names and paths shared by both drivers.

import { join } from "node:path";
import { CgroupError } from "./errors";
import type { CgroupId } from "./types";

/**
 * One level of a cgroup path: a plain directory name. Longer than a container
 * name may be (podman's "libpod-<64 hex digits>" under an OCI cgroupsPath),
 * up to the kernel's NAME_MAX; never "." or "..", never a slash.
 */
export const CGROUP_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.@:-]{0,254}$/;

/**
 * The parent ("diyc", "diyc-test-1234", "a/b") as path segments. Each segment
 * must be a plain name: the parent and the id are joined under /sys/fs/cgroup,
 * and ".." or an absolute path would put a cgroup (and its limits) elsewhere.
 */
export function parentSegments(parent: string): string[] {
  const segments = parent.split("/").filter((s) => s !== "");
  if (segments.length === 0 || !segments.every((s) => CGROUP_NAME_PATTERN.test(s))) {
    throw new CgroupError("config", parent, undefined, "the cgroup parent must be names separated by /, like diyc");
  }
  return segments;
}

export function checkId(id: CgroupId, where: string): void {
  if (!CGROUP_NAME_PATTERN.test(id)) {
    throw new CgroupError("config", join(where, id), undefined, "a cgroup name must be 1-255 characters [a-zA-Z0-9_.@:-], starting with a letter or digit");
  }
}

/** Root, then each level of the parent: [[root, root/diyc], ...] as (parentDir, dir) pairs. */
export function parentLevels(root: string, segments: readonly string[]): Array<[string, string]> {
  const levels: Array<[string, string]> = [];
  let dir = root;
  for (const segment of segments) {
    const next = join(dir, segment);
    levels.push([dir, next]);
    dir = next;
  }
  return levels;
}

/** cgroup.procs lists one pid per line. */
export function parsePids(text: string): number[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}
