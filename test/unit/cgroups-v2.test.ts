import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CgroupError, DEFAULT_DEVICE_RULES, detectCgroupManager, sharesToWeight } from "../../src/cgroups";
import { compileDeviceProgram } from "../../src/cgroups/v2/devices";
import { mimicV2Host } from "../../src/cgroups/mimic";
import { Errno } from "../../src/linux/errors";

const MiB = 1024 * 1024;
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "diyc-cgroups-v2-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const cg = (...rest: string[]) => join(root, "sys/fs/cgroup", ...rest);
const file = (path: string) => readFileSync(path, "utf8");

function host(controllers = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]) {
  const mimic = mimicV2Host(root, controllers);
  return { manager: detectCgroupManager({ mountsText: mimic.mountinfo, root, parent: "diyc/test", fs: mimic.fs }), fs: mimic.fs };
}

describe("v2 driver on a mimic of cgroupfs", () => {
  test("controllers are enabled down the path, one write per level, only ours", () => {
    const { manager, fs } = host();
    expect(manager.version).toBe("v2");
    expect(manager.mode).toBe("v2");
    const cgroup = manager.create("web", {});
    expect(cgroup.paths).toEqual([cg("diyc/test/web")]);
    expect(fs.writes.filter((w) => w.path.endsWith("cgroup.subtree_control"))).toEqual([
      { path: cg("cgroup.subtree_control"), value: "+cpuset +cpu +memory +pids" },
      { path: cg("diyc/cgroup.subtree_control"), value: "+cpuset +cpu +memory +pids" },
      { path: cg("diyc/test/cgroup.subtree_control"), value: "+cpuset +cpu +memory +pids" },
    ]);
    expect(file(cg("diyc/test/web/cgroup.controllers"))).toBe("cpuset cpu memory pids");

    // v2 has no devices files: the allow-list is an eBPF program attached to the cgroup.
    expect(fs.devicePrograms.get(cg("diyc/test/web"))).toEqual([compileDeviceProgram(DEFAULT_DEVICE_RULES)]);

    // A second container: everything is enabled already, no subtree write.
    fs.writes.length = 0;
    manager.create("db", {});
    expect(fs.writes.filter((w) => w.path.endsWith("cgroup.subtree_control"))).toEqual([]);
  });

  test("limits: memory.max, memory.swap.max, cpu.max, cpu.weight, cpuset.cpus, pids.max", () => {
    const { manager } = host();
    manager.create("web", {
      memory: { limit: 64 * MiB, swap: 64 * MiB },
      cpu: { shares: 1024, quota: 150_000, period: 100_000, cpus: "0" },
      pids: { limit: 10 },
    });
    expect(file(cg("diyc/test/web/memory.max"))).toBe(String(64 * MiB));
    expect(file(cg("diyc/test/web/memory.swap.max"))).toBe("0");
    expect(file(cg("diyc/test/web/cpu.max"))).toBe("150000 100000");
    expect(file(cg("diyc/test/web/cpu.weight"))).toBe("39");
    expect(file(cg("diyc/test/web/cpuset.cpus"))).toBe("0");
    expect(file(cg("diyc/test/web/pids.max"))).toBe("10");
  });

  test("swap: spec memory+swap becomes v2 swap alone; -1 is max", () => {
    const { manager } = host();
    manager.create("a", { memory: { limit: 64 * MiB, swap: 96 * MiB } });
    expect(file(cg("diyc/test/a/memory.swap.max"))).toBe(String(32 * MiB));
    manager.create("b", { memory: { limit: 64 * MiB, swap: -1 }, pids: { limit: -1 } });
    expect(file(cg("diyc/test/b/memory.swap.max"))).toBe("max");
    expect(file(cg("diyc/test/b/pids.max"))).toBe("max");
    manager.create("c", { memory: { limit: -1 } });
    expect(file(cg("diyc/test/c/memory.max"))).toBe("max");
  });

  test("shares → weight, the runc mapping", () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });

  test("a controller the host does not offer: only the offered are enabled; a limit needing it is refused and undone", () => {
    const { manager, fs } = host(["memory", "io"]);
    manager.create("ok", { memory: { limit: 64 * MiB } });
    expect(fs.writes.find((w) => w.path === cg("cgroup.subtree_control"))?.value).toBe("+memory");
    expect(() => manager.create("web", { pids: { limit: 5 } })).toThrow(
      `cgroup config ${cg("diyc/test/web/cgroup.controllers")}: the pids controller is not available here`,
    );
    expect(existsSync(cg("diyc/test/web"))).toBe(false);
    // And the mimic refuses what the kernel refuses: enabling an absent controller.
    expect(() => fs.write(cg("cgroup.subtree_control"), "+pids")).toThrow(
      new CgroupError("write", cg("cgroup.subtree_control"), Errno.ENOENT),
    );
  });

  test("create refuses an existing cgroup (EEXIST)", () => {
    const { manager } = host();
    manager.create("web", {});
    expect(() => manager.create("web", {})).toThrow(`cgroup mkdir ${cg("diyc/test/web")}: file exists (EEXIST)`);
    expect(existsSync(cg("diyc/test/web"))).toBe(true);
  });

  test("addProcess, pids, stats, oomKilled, remove, removeParent", () => {
    const { manager, fs } = host();
    expect(manager.open("web")).toBeUndefined();
    manager.create("web", { memory: { limit: 64 * MiB }, pids: { limit: 10 } });
    const cgroup = manager.open("web")!;
    cgroup.addProcess(77);
    expect(file(cg("diyc/test/web/cgroup.procs"))).toBe("77\n");
    expect(cgroup.pids()).toEqual([77]);
    expect(() => cgroup.remove()).toThrow(CgroupError); // EBUSY: a process is in it (after ~2 s of retries)
    fs.setFile(cg("diyc/test/web/cgroup.procs"), "");

    fs.setFile(cg("diyc/test/web/memory.current"), String(20 * MiB));
    fs.setFile(cg("diyc/test/web/memory.stat"), `anon 1\ninactive_file ${4 * MiB}\n`);
    fs.setFile(cg("diyc/test/web/cpu.stat"), "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
    fs.setFile(cg("diyc/test/web/pids.current"), "4");
    const stats = cgroup.stats();
    expect(stats.memory).toEqual({ usageBytes: 20 * MiB, inactiveFileBytes: 4 * MiB, limitBytes: 64 * MiB });
    expect(stats.cpu).toEqual({ usageNs: 2_500_000 });
    expect(stats.pids).toEqual({ current: 4, limit: 10 });

    expect(cgroup.oomKilled()).toBe(false);
    fs.setFile(cg("diyc/test/web/memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    expect(cgroup.oomKilled()).toBe(true);

    cgroup.remove();
    cgroup.remove();
    expect(existsSync(cg("diyc/test/web"))).toBe(false);
    manager.removeParent();
    expect(existsSync(cg("diyc/test"))).toBe(false);
  });

  test("without controllers (like a hybrid host's unified mount), a cgroup still holds processes and counts CPU", () => {
    const { manager } = host([]);
    const cgroup = manager.create("web", {});
    const stats = cgroup.stats();
    expect(stats.cpu).toEqual({ usageNs: 0 });
    expect(stats.memory).toBeUndefined();
    expect(stats.pids).toBeUndefined();
    expect(cgroup.oomKilled()).toBe(false);
    cgroup.remove();
  });
});
