import { describe, expect, test } from "bun:test";
import { CgroupError, detectCgroupManager, parseCgroupMounts, V1CgroupManager, V2CgroupManager } from "../../src/cgroups";

// Pure v1, as an older distribution (or a container host with systemd.legacy) mounts it.
const V1 = `
22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
37 31 0:34 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset
39 31 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,devices
`;

// Hybrid, as this machine has it: every controller on its own v1 mount, plus an empty cgroup2.
const HYBRID = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// Pure v2 (Debian 11+, Fedora 31+, Ubuntu 21.10+).
const V2 = `
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
`;

describe("parseCgroupMounts", () => {
  test("v1: each controller to its mount point; co-mounted ones share it; named hierarchies are not controllers", () => {
    const mounts = parseCgroupMounts(V1);
    expect(mounts.v2).toBeUndefined();
    expect(Object.fromEntries(mounts.v1)).toEqual({
      cpu: "/sys/fs/cgroup/cpu,cpuacct",
      cpuacct: "/sys/fs/cgroup/cpu,cpuacct",
      memory: "/sys/fs/cgroup/memory",
      cpuset: "/sys/fs/cgroup/cpuset",
      pids: "/sys/fs/cgroup/pids",
      devices: "/sys/fs/cgroup/devices",
    });
  });

  test("hybrid: v1 controllers and the cgroup2 mount", () => {
    const mounts = parseCgroupMounts(HYBRID);
    expect(mounts.v2).toBe("/sys/fs/cgroup/unified");
    expect(mounts.v1.get("cpuacct")).toBe("/sys/fs/cgroup/cpuacct");
    expect(mounts.v1.get("freezer")).toBe("/sys/fs/cgroup/freezer");
    expect(mounts.v1.has("name=systemd")).toBe(false);
  });

  test("v2 only", () => {
    const mounts = parseCgroupMounts(V2);
    expect(mounts.v1.size).toBe(0);
    expect(mounts.v2).toBe("/sys/fs/cgroup");
  });

  test("mountinfo escapes in mount points are decoded", () => {
    const mounts = parseCgroupMounts("26 25 0:24 / /tmp/my\\040cgroups rw - cgroup2 cgroup2 rw\n");
    expect(mounts.v2).toBe("/tmp/my cgroups");
  });
});

describe("detectCgroupManager", () => {
  test("v1 → the v1 driver, mode v1, with the parent under each hierarchy", () => {
    const manager = detectCgroupManager({ mountsText: V1, parent: "diyc" });
    expect(manager).toBeInstanceOf(V1CgroupManager);
    expect(manager.version).toBe("v1");
    expect(manager.mode).toBe("v1");
    expect((manager as V1CgroupManager).parentPaths).toEqual([
      "/sys/fs/cgroup/cpuset/diyc",
      "/sys/fs/cgroup/cpu,cpuacct/diyc",
      "/sys/fs/cgroup/memory/diyc",
      "/sys/fs/cgroup/pids/diyc",
      "/sys/fs/cgroup/devices/diyc",
    ]);
  });

  test("hybrid → the v1 driver, mode hybrid", () => {
    const manager = detectCgroupManager({ mountsText: HYBRID, parent: "diyc" });
    expect(manager.version).toBe("v1");
    expect(manager.mode).toBe("hybrid");
    expect((manager as V1CgroupManager).parentPaths).toContain("/sys/fs/cgroup/cpuacct/diyc");
  });

  test("v2 → the v2 driver at the cgroup2 mount; root rebases it", () => {
    const manager = detectCgroupManager({ mountsText: V2, parent: "diyc", root: "/tmp/fake" });
    expect(manager).toBeInstanceOf(V2CgroupManager);
    expect(manager.version).toBe("v2");
    expect((manager as V2CgroupManager).parentPath).toBe("/tmp/fake/sys/fs/cgroup/diyc");
  });

  test("no cgroup filesystem: a CgroupError naming mountinfo", () => {
    expect(() => detectCgroupManager({ mountsText: "30 1 8:1 / / rw - ext4 /dev/sda1 rw\n", parent: "diyc" })).toThrow(
      new CgroupError("detect", "/proc/self/mountinfo", undefined, "no cgroup or cgroup2 filesystem is mounted"),
    );
  });

  test("a parent that would leave the hierarchy is refused", () => {
    for (const parent of ["..", "a/../..", "", "/"]) {
      expect(() => detectCgroupManager({ mountsText: V2, parent })).toThrow(CgroupError);
    }
  });

  test("this host's own mountinfo is understood", () => {
    const manager = detectCgroupManager({ parent: "diyc" });
    expect(["v1", "v2"]).toContain(manager.version);
  });
});
