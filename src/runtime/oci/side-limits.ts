// linux.resources.blockIO and hugepageLimits: on cgroup v1 they live in
// hierarchies the container drivers do not manage (blkio, hugetlb), so the
// OCI runtime makes the container a cgroup there only when it asks
// (src/cgroups/v1/side.ts), while the init waits, and removes it at delete.

import { writeFileSync } from "node:fs";
import { hostMountinfo } from "../limits";
import { join } from "node:path";
import type { Cgroup } from "../../cgroups/index";
import { SideCgroupV1 } from "../../cgroups/v1/side";
import { DiycError } from "../../linux/errors";
import type { LinuxResources } from "../../spec/resources";
import { DEFAULT_OCI_CGROUP_PARENT } from "./cgroup";
import type { CgroupPlace } from "./state";

const SIDE_CONTROLLERS = ["blkio", "hugetlb"] as const;

const THROTTLE_FILES = {
  throttleReadBpsDevice: "blkio.throttle.read_bps_device",
  throttleWriteBpsDevice: "blkio.throttle.write_bps_device",
  throttleReadIOPSDevice: "blkio.throttle.read_iops_device",
  throttleWriteIOPSDevice: "blkio.throttle.write_iops_device",
} as const;

function locate(controller: string, place: CgroupPlace, mountinfo: string, isV2: boolean): SideCgroupV1 {
  const side = isV2 ? undefined : SideCgroupV1.locate(mountinfo, controller, place.parent, place.name);
  if (!side) throw new DiycError(`linux.resources: the ${controller} controller is not mounted on this host${isV2 ? " as v1 (cgroup v2 io and hugetlb limits are not applied by diyc-oci yet)" : ""}`);
  return side;
}

/** Applies blockIO and hugepageLimits to `pid`'s new side cgroups. */
export function applySideLimits(place: CgroupPlace, resources: LinuxResources, pid: number, version: "v1" | "v2"): void {
  const { blockIO, hugepageLimits } = resources;
  if (!blockIO && !hugepageLimits) return;
  const mountinfo = hostMountinfo();
  if (blockIO) {
    const blkio = locate("blkio", place, mountinfo, version === "v2");
    blkio.join(pid);
    if (blockIO.weight !== undefined) {
      // CFQ's blkio.weight is gone since Linux 5.0; BFQ's takes its place.
      const file = ["blkio.weight", "blkio.bfq.weight"].find((f) => blkio.has(f));
      if (!file) throw new DiycError("linux.resources.blockIO.weight: this kernel's blkio controller has no weight (no BFQ scheduler)");
      blkio.write(file, String(blockIO.weight));
    }
    if (blockIO.weightDevice?.length) {
      const file = ["blkio.weight_device", "blkio.bfq.weight_device"].find((f) => blkio.has(f));
      if (!file) throw new DiycError("linux.resources.blockIO.weightDevice: this kernel's blkio controller has no per-device weight (no BFQ scheduler)");
      for (const device of blockIO.weightDevice) blkio.write(file, `${device.major}:${device.minor} ${device.weight}`);
    }
    for (const [key, file] of Object.entries(THROTTLE_FILES) as [keyof typeof THROTTLE_FILES, string][]) {
      for (const device of blockIO[key] ?? []) blkio.write(file, `${device.major}:${device.minor} ${device.rate}`);
    }
  }
  if (hugepageLimits) {
    const hugetlb = locate("hugetlb", place, mountinfo, version === "v2");
    hugetlb.join(pid);
    for (const limit of hugepageLimits) hugetlb.write(`hugetlb.${limit.pageSize}.limit_in_bytes`, String(limit.limit));
  }
}

/**
 * linux.resources.unified: cgroup v2 files, written into the container's own
 * cgroup after the drivers' limits. On a v1 host there is no such file: refused, as runc does.
 */
export function applyUnified(cgroup: Cgroup, resources: LinuxResources, version: "v1" | "v2"): void {
  const unified = resources.unified;
  if (!unified) return;
  if (version !== "v2") throw new DiycError("linux.resources.unified: cgroup v2 files, but this host's controllers are on cgroup v1");
  for (const [key, value] of Object.entries(unified)) writeFileSync(join(cgroup.paths[0]!, key), value);
}

/** Removes the container's side cgroups (those that exist). */
export function removeSideCgroups(place: CgroupPlace): void {
  const mountinfo = hostMountinfo();
  for (const controller of SIDE_CONTROLLERS) {
    const side = SideCgroupV1.locate(mountinfo, controller, place.parent, place.name);
    side?.remove();
    if (place.parent === DEFAULT_OCI_CGROUP_PARENT) side?.removeParent();
  }
}
