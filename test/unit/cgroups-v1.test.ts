import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CgroupError, DEFAULT_DEVICE_RULES, deviceRuleText, detectCgroupManager, type CgroupFs } from "../../src/cgroups";
import { mimicV1Host, type MimicCgroupFs } from "../../src/cgroups/mimic";
import { joinCgroupDirs, withDerivedOps } from "../../src/cgroups/fs";
import { memoryV1 } from "../../src/cgroups/v1/memory";
import { Errno } from "../../src/linux/errors";
import type { LinuxResources } from "../../src/spec/resources";

const MiB = 1024 * 1024;
const SEPARATE = [["cpu"], ["cpuacct"], ["cpuset"], ["memory"], ["pids"], ["devices"], ["freezer"]];

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "diyc-cgroups-v1-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const cg = (controller: string, ...rest: string[]) => join(root, "sys/fs/cgroup", controller, ...rest);
const file = (path: string) => readFileSync(path, "utf8");

function host(options: { hierarchies?: string[][]; swapAccounting?: boolean; fs?: (mimic: MimicCgroupFs) => CgroupFs } = {}) {
  const mimic = mimicV1Host(root, { hierarchies: options.hierarchies ?? SEPARATE, unified: true, swapAccounting: options.swapAccounting });
  const fs = options.fs ? options.fs(mimic.fs) : mimic.fs;
  const manager = detectCgroupManager({ mountsText: mimic.mountinfo, root, parent: "diyc/test", fs });
  return { manager, fs: mimic.fs };
}

const ALL: LinuxResources = {
  memory: { limit: 64 * MiB, swap: 64 * MiB },
  cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: "1" },
  pids: { limit: 10 },
};

describe("v1 driver on a mimic of cgroupfs", () => {
  test("create writes every limit into its controller's hierarchy", () => {
    const { manager } = host();
    expect(manager.mode).toBe("hybrid");
    const cgroup = manager.create("web", ALL);
    expect(cgroup.paths).toEqual(["cpuset", "cpu", "cpuacct", "memory", "pids", "devices"].map((c) => cg(c, "diyc/test/web")));
    expect(file(cg("memory", "diyc/test/web/memory.limit_in_bytes"))).toBe(String(64 * MiB));
    expect(file(cg("memory", "diyc/test/web/memory.memsw.limit_in_bytes"))).toBe(String(64 * MiB));
    expect(file(cg("cpu", "diyc/test/web/cpu.shares"))).toBe("512");
    expect(file(cg("cpu", "diyc/test/web/cpu.cfs_period_us"))).toBe("100000");
    expect(file(cg("cpu", "diyc/test/web/cpu.cfs_quota_us"))).toBe("50000");
    expect(file(cg("cpuset", "diyc/test/web/cpuset.cpus"))).toBe("1");
    expect(file(cg("pids", "diyc/test/web/pids.max"))).toBe("10");
    // freezer is mounted but not used: nothing made there.
    expect(existsSync(cg("freezer", "diyc"))).toBe(false);
  });

  test("the shared parent removed by another container's release between its mkdir and ours: made again", () => {
    // As `diyc run --rm` side by side: the other's removeParent finds diyc/test empty and removes it.
    let mkdirRaced = false, readRaced = false;
    const { manager } = host({
      fs: (real) => withDerivedOps({
        rmdir: (path) => real.rmdir(path),
        write: (path, value) => real.write(path, value),
        exists: (path) => real.exists(path),
        attachDeviceProgram: (path, program) => real.attachDeviceProgram(path, program),
        mkdir(path) {
          if (path === cg("pids", "diyc/test/web") && !mkdirRaced) {
            mkdirRaced = true;
            real.rmdir(cg("pids", "diyc/test"));
          }
          real.mkdir(path);
        },
        read(path) {
          // A file of a removed cgroup reads as ENODEV.
          if (path === cg("cpuset", "diyc/test/cpuset.cpus") && !readRaced) {
            readRaced = true;
            real.rmdir(cg("cpuset", "diyc/test"));
            throw new CgroupError("read", path, Errno.ENODEV);
          }
          return real.read(path);
        },
      }),
    });
    const cgroup = manager.create("web", {});
    expect([mkdirRaced, readRaced]).toEqual([true, true]);
    for (const dir of cgroup.paths) expect(existsSync(dir)).toBe(true);
    expect(file(cg("cpuset", "diyc/test/web/cpuset.cpus")).trim()).not.toBe("");
  });

  test("devices: deny all, then allow exactly a container /dev, one rule per write", () => {
    const { manager } = host();
    manager.create("web", {});
    expect(file(cg("devices", "diyc/test/web/devices.deny"))).toBe("a\n");
    expect(file(cg("devices", "diyc/test/web/devices.allow")).trimEnd().split("\n")).toEqual([
      "c *:* m",
      "b *:* m",
      "c 1:3 rwm",
      "c 1:5 rwm",
      "c 1:7 rwm",
      "c 1:8 rwm",
      "c 1:9 rwm",
      "c 5:0 rwm",
      "c 5:2 rwm",
      "c 136:* rwm",
    ]);
    expect(DEFAULT_DEVICE_RULES.map(deviceRuleText)).toContain("c 136:* rwm");
  });

  test("cpuset: cpus and mems are copied down every level, so a process can join (else ENOSPC)", () => {
    const { manager, fs } = host();
    const cgroup = manager.create("web", {});
    for (const level of ["diyc", "diyc/test", "diyc/test/web"]) {
      expect(file(cg("cpuset", level, "cpuset.cpus"))).toBe("0-1");
      expect(file(cg("cpuset", level, "cpuset.mems"))).toBe("0");
    }
    cgroup.addProcess(4242);
    for (const dir of cgroup.paths) expect(file(join(dir, "cgroup.procs"))).toBe("4242\n");
    expect(cgroup.pids()).toEqual([4242]);

    // The pitfall itself, shown on the mimic: a fresh cpuset refuses a process.
    fs.mkdir(cg("cpuset", "bare"));
    expect(() => fs.write(cg("cpuset", "bare", "cgroup.procs"), "1")).toThrow(
      new CgroupError("write", cg("cpuset", "bare", "cgroup.procs"), Errno.ENOSPC),
    );
  });

  test("co-mounted cpu,cpuacct: one directory serves both", () => {
    const { manager } = host({ hierarchies: [["cpu", "cpuacct"], ["cpuset"], ["memory"], ["pids"], ["devices"]] });
    expect(manager.mode).toBe("hybrid");
    const cgroup = manager.create("web", { cpu: { quota: 150_000, period: 100_000 } });
    expect(cgroup.paths).toContain(cg("cpu,cpuacct", "diyc/test/web"));
    expect(cgroup.paths.length).toBe(5);
    expect(file(cg("cpu,cpuacct", "diyc/test/web/cpu.cfs_quota_us"))).toBe("150000");
    expect(cgroup.stats().cpu).toEqual({ usageNs: 0 });
  });

  test("memsw: limit first when lowering or in a fresh cgroup, memsw first when raising above it", () => {
    const { manager, fs } = host();
    manager.create("web", {});
    const dir = cg("memory", "diyc/test/web");
    const order = () => fs.writes.filter((w) => w.path.startsWith(dir)).map((w) => w.path.slice(dir.length + 1));

    fs.writes.length = 0;
    memoryV1.apply(fs, dir, { memory: { limit: 64 * MiB, swap: 64 * MiB } });
    expect(order()).toEqual(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);

    fs.writes.length = 0;
    memoryV1.apply(fs, dir, { memory: { limit: 32 * MiB, swap: 32 * MiB } });
    expect(order()).toEqual(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);

    fs.writes.length = 0;
    memoryV1.apply(fs, dir, { memory: { limit: 128 * MiB, swap: 128 * MiB } });
    expect(order()).toEqual(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
    expect(file(join(dir, "memory.limit_in_bytes"))).toBe(String(128 * MiB));

    // The wrong order is what the kernel refuses.
    expect(() => fs.write(join(dir, "memory.limit_in_bytes"), String(256 * MiB))).toThrow(
      new CgroupError("write", join(dir, "memory.limit_in_bytes"), Errno.EINVAL),
    );
  });

  test("swap -1 (unlimited) is written as -1; without swap accounting memsw is left alone", () => {
    let h = host();
    h.manager.create("a", { memory: { limit: 64 * MiB, swap: -1 } });
    expect(file(cg("memory", "diyc/test/a/memory.memsw.limit_in_bytes"))).toBe("9223372036854771712");
    rmSync(join(root, "sys"), { recursive: true });

    h = host({ swapAccounting: false });
    h.manager.create("b", { memory: { limit: 64 * MiB, swap: 64 * MiB } });
    expect(file(cg("memory", "diyc/test/b/memory.limit_in_bytes"))).toBe(String(64 * MiB));
    expect(h.fs.writes.some((w) => w.path.endsWith("memsw.limit_in_bytes"))).toBe(false);
  });

  test("create refuses a cgroup that exists, and leaves it alone", () => {
    const { manager } = host();
    manager.create("web", {});
    let error: unknown;
    try {
      manager.create("web", {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CgroupError);
    expect((error as CgroupError).errno).toBe(Errno.EEXIST);
    expect((error as CgroupError).message).toBe(`cgroup mkdir ${cg("cpuset", "diyc/test/web")}: file exists (EEXIST)`);
    expect(existsSync(cg("cpuset", "diyc/test/web"))).toBe(true);
  });

  test("a failed create removes every directory it made, and reports path and errno", () => {
    const busyPids = (mimic: MimicCgroupFs): CgroupFs => withDerivedOps({
      mkdir: (p) => mimic.mkdir(p),
      rmdir: (p) => mimic.rmdir(p),
      read: (p) => mimic.read(p),
      exists: (p) => mimic.exists(p),
      attachDeviceProgram: (p, program) => mimic.attachDeviceProgram(p, program),
      write: (p, v) => {
        if (p.endsWith("pids.max")) throw new CgroupError("write", p, Errno.EBUSY);
        mimic.write(p, v);
      },
    });
    const { manager } = host({ fs: busyPids });
    expect(() => manager.create("web", ALL)).toThrow(
      `cgroup write ${cg("pids", "diyc/test/web/pids.max")}: device or resource busy (EBUSY)`,
    );
    for (const c of ["cpuset", "cpu", "cpuacct", "memory", "pids", "devices"]) {
      expect(existsSync(cg(c, "diyc/test/web"))).toBe(false);
      expect(existsSync(cg(c, "diyc/test"))).toBe(true); // the shared parent stays
    }
  });

  test("a limit whose controller is not mounted is refused before anything is made", () => {
    const { manager } = host({ hierarchies: [["cpu"], ["memory"], ["devices"]] });
    expect(() => manager.create("web", { pids: { limit: 5 } })).toThrow("the pids controller is not mounted on this host");
    expect(existsSync(cg("memory", "diyc"))).toBe(false);
  });

  test("open, stats, oomKilled, remove, removeParent", () => {
    const { manager, fs } = host();
    expect(manager.open("web")).toBeUndefined();
    manager.create("web", ALL);
    const cgroup = manager.open("web")!;
    expect(cgroup.paths.length).toBe(6);

    fs.setFile(cg("memory", "diyc/test/web/memory.usage_in_bytes"), String(10 * MiB));
    fs.setFile(cg("memory", "diyc/test/web/memory.stat"), `cache 100\ntotal_inactive_file ${2 * MiB}\n`);
    fs.setFile(cg("cpuacct", "diyc/test/web/cpuacct.usage"), "123456789\n");
    fs.setFile(cg("pids", "diyc/test/web/pids.current"), "3\n");
    const stats = cgroup.stats();
    expect(stats.memory).toEqual({ usageBytes: 10 * MiB, inactiveFileBytes: 2 * MiB, limitBytes: 64 * MiB });
    expect(stats.cpu).toEqual({ usageNs: 123456789 });
    expect(stats.pids).toEqual({ current: 3, limit: 10 });

    expect(cgroup.oomKilled()).toBe(false);
    fs.setFile(cg("memory", "diyc/test/web/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    expect(cgroup.oomKilled()).toBe(true);

    expect(() => manager.removeParent()).toThrow(CgroupError); // a container is still in it
    cgroup.remove();
    cgroup.remove(); // ENOENT is fine
    for (const dir of cgroup.paths) expect(existsSync(dir)).toBe(false);
    manager.removeParent();
    for (const c of ["cpuset", "cpu", "cpuacct", "memory", "pids", "devices"]) expect(existsSync(cg(c, "diyc/test"))).toBe(false);
    expect(existsSync(cg("memory", "diyc"))).toBe(true); // only the last level is the parent's own
  });

  test("no limit reads as undefined, as does an unlimited pids.max", () => {
    const { manager } = host();
    const stats = manager.create("web", {}).stats();
    expect(stats.memory?.limitBytes).toBeUndefined();
    expect(stats.pids?.limit).toBeUndefined();
  });

  test("an id that is not a container name is refused", () => {
    const { manager } = host();
    expect(() => manager.create("../escape", {})).toThrow(CgroupError);
    expect(() => manager.open("a/b")).toThrow(CgroupError);
  });

  test("-v: every change is logged", () => {
    const mimic = mimicV1Host(root, { hierarchies: [["pids"]] });
    const lines: string[] = [];
    const manager = detectCgroupManager({ mountsText: mimic.mountinfo, root, parent: "diyc", fs: mimic.fs, log: (l) => lines.push(l) });
    manager.create("web", { pids: { limit: 7 } }).addProcess(99);
    expect(lines).toEqual([
      `cgroup mkdir ${cg("pids", "diyc")}`,
      `cgroup mkdir ${cg("pids", "diyc/web")}`,
      `cgroup write ${cg("pids", "diyc/web/pids.max")} "7"`,
      `cgroup write ${cg("pids", "diyc/web/cgroup.procs")} "99"`,
    ]);
  });
});

describe("joining a cgroup diyc does not otherwise manage (joinCgroupDirs)", () => {
  test("the shared parent removed by another release between its mkdir and ours: made again, and the process joins", () => {
    const mimic = mimicV1Host(root, { hierarchies: [["freezer"]] });
    const parent = cg("freezer", "diyc");
    const own = cg("freezer", "diyc", "web");
    let raced = false;
    const fs = withDerivedOps({
      rmdir: (path) => mimic.fs.rmdir(path),
      write: (path, value) => mimic.fs.write(path, value),
      read: (path) => mimic.fs.read(path),
      exists: (path) => mimic.fs.exists(path),
      attachDeviceProgram: (path, program) => mimic.fs.attachDeviceProgram(path, program),
      mkdir(path) {
        if (path === own && !raced) {
          raced = true;
          mimic.fs.rmdir(parent); // the other container's release, at the worst moment
        }
        mimic.fs.mkdir(path);
      },
    });
    joinCgroupDirs(fs, [parent, own], 4321);
    expect(raced).toBe(true);
    expect(file(join(own, "cgroup.procs"))).toBe("4321\n");
  });
});
