// Where an OCI container's cgroup goes: linux.cgroupsPath, as cgroupfs paths
// ("/libpod_parent/libpod-ID" from podman, "/default/ID" from containerd).
// The parent levels belong to the caller and are left in place; the
// container's own directory is made at create and removed at delete.
// Without a cgroupsPath the container goes under diyc-oci/ID.

import { detectCgroupManager, type Cgroup, type CgroupManager } from "../../cgroups/index";
import { UsageError } from "../../linux/errors";
import { hostMountinfo } from "../limits";
import type { Spec } from "../../spec/oci";
import type { LinuxResources } from "../../spec/resources";
import type { CgroupPlace } from "./state";

export const DEFAULT_OCI_CGROUP_PARENT = "diyc-oci";

export function cgroupPlace(spec: Spec, id: string): CgroupPlace {
  const path = spec.linux.cgroupsPath;
  if (!path) return { parent: DEFAULT_OCI_CGROUP_PARENT, name: id };
  if (!path.startsWith("/") && path.split(":").length === 3) {
    throw new UsageError(
      `linux.cgroupsPath ${JSON.stringify(path)} is systemd's slice:prefix:name form; diyc-oci has no systemd cgroup driver yet: use cgroupfs paths (podman: cgroup_manager = "cgroupfs")`,
    );
  }
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) throw new UsageError(`invalid linux.cgroupsPath ${JSON.stringify(path)}: no . or .. levels`);
  if (segments.length === 0) throw new UsageError(`invalid linux.cgroupsPath ${JSON.stringify(path)}: it names no cgroup`);
  // A single level ("/name") still gets a parent of ours: the drivers keep
  // every container below one parent directory.
  if (segments.length === 1) return { parent: DEFAULT_OCI_CGROUP_PARENT, name: segments[0]! };
  return { parent: segments.slice(0, -1).join("/"), name: segments.at(-1)! };
}

export function cgroupManagerFor(place: CgroupPlace, log?: (line: string) => void): CgroupManager {
  return detectCgroupManager({ parent: place.parent, log, mountsText: hostMountinfo() });
}

/**
 * Makes the container's cgroup. One left by a container that was never
 * deleted, with no process in it, is removed first; one with processes is a
 * conflict.
 */
export function createOciCgroup(manager: CgroupManager, place: CgroupPlace, resources: LinuxResources): Cgroup {
  const existing = manager.open(place.name);
  if (existing) {
    if (existing.pids().length > 0) throw new UsageError(`cgroup ${place.parent}/${place.name} exists and has processes in it`);
    existing.remove();
  }
  return manager.create(place.name, resources);
}

/** Removes the container's cgroup, and diyc-oci's own parent once empty. */
export function removeOciCgroup(manager: CgroupManager, place: CgroupPlace): void {
  manager.open(place.name)?.remove();
  if (place.parent === DEFAULT_OCI_CGROUP_PARENT) {
    try {
      manager.removeParent();
    } catch {
      // best effort: other containers still live in it
    }
  }
}
