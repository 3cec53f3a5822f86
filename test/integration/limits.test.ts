// Resource limits end to end through `diyc run`, as root on the real kernel
// (cgroup v1 or hybrid). Each test has a store of its own, so its cgroups live
// under a parent of its own (diyc-<hash of the store root>) in every
// hierarchy. Limits are checked from inside the container (what the kernel
// lets the workload do, what its read-only /sys/fs/cgroup shows) and from the
// host (the container's cgroup files); and every test proves that nothing is
// left: no cgroup directory under any /sys/fs/cgroup/<controller>/ for the
// store's parent, no helper process, no mount, no container directory.
// Long-running containers are started in the background with -v and stopped
// by SIGKILL to the init pid that -v printed.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cgroupParentFor } from "../../src/runtime/limits";
import { Store } from "../../src/store/store";
import {
  diyc, isRoot, processExists, removeStore, tempStore, type Result,
} from "../helpers/diyc";
import { type Background, cgroupParentOf, runTraced, startTraced, uniqueName, until } from "../helpers/traced-runs";

const CGROUP_ROOT = "/sys/fs/cgroup";
const MiB = 1024 * 1024;
const isV1 = existsSync(join(CGROUP_ROOT, "memory", "memory.limit_in_bytes"));
const describeRoot = isRoot && isV1 ? describe : describe.skip;
if (!isRoot || !isV1) console.warn("limits integration tests skipped: they need root and cgroup v1 (or hybrid) mounts");

/** Every hierarchy directory under /sys/fs/cgroup (memory, cpu, cpuacct, ..., unified). */
const hierarchies = (): string[] =>
  readdirSync(CGROUP_ROOT).filter((entry) => {
    try {
      return statSync(join(CGROUP_ROOT, entry)).isDirectory();
    } catch {
      return false;
    }
  });

/** The store's cgroup directories that exist now, in any hierarchy. */
function cgroupDirsOf(root: string): string[] {
  return hierarchies().map((h) => join(CGROUP_ROOT, h, cgroupParentOf(root))).filter((dir) => existsSync(dir));
}

/** A container's cgroup file, seen from the host. */
function hostCgroupFile(root: string, controller: string, name: string, file: string): string {
  return readFileSync(join(CGROUP_ROOT, controller, cgroupParentOf(root), name, file), "utf8").trim();
}

interface Case {
  root: string;
  /** Every init and monitor pid this test's runs printed (-v). */
  pids: number[];
}
let current: Case | undefined;

/** A fresh store for this test; afterEach checks it is left clean and removes it. */
function store(): string {
  const root = tempStore("diyc-limits-");
  current = { root, pids: [] };
  return root;
}

afterEach(() => {
  if (!current) return;
  const { root, pids } = current;
  current = undefined;
  try {
    // An empty cgroup proves that no process of the container is left (rmdir fails while it has members);
    // the monitors are not in it, so each one is checked by its pid. Other people's containers may be
    // running on this machine, so a count of all diyc-helper processes would prove nothing.
    expect(cgroupDirsOf(root)).toEqual([]);
    expect(pids.filter(processExists)).toEqual([]);
    const containers = join(root, "containers");
    expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
  } finally {
    removeStore(root); // checks that no mount is left, then deletes the store
  }
});

/** `diyc run -v ARGS`, its pids recorded for afterEach (test/helpers/traced-runs.ts). */
const run = (root: string, args: string[]): Result => runTraced(root, args, current?.pids);
const background = (root: string, args: string[]): Promise<Background> => startTraced(root, args, current?.pids);

describeRoot("memory", () => {
  test("-m 16: dd of 64 MiB is OOM-killed (137, one line); -m 256 and no limit let it run", () => {
    const root = store();
    const dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    const small = uniqueName("oom");
    const killed = diyc(root, ["run", "--rm", "-m", "16", small, "busybox", ...dd]);
    expect(killed.stderr).toBe(`diyc: container ${small} was killed: out of memory (limit 16 MiB)\n`);
    expect(killed.code).toBe(137);
    expect(cgroupDirsOf(root)).toEqual([]);
    // Again with -v, for the pids (afterEach checks that they are gone): the same one line besides the trace.
    const traced = run(root, ["--rm", "-m", "16", small, "busybox", ...dd]);
    expect(traced).toMatchObject({ code: 137, stderr: `diyc: container ${small} was killed: out of memory (limit 16 MiB)\n` });

    const big = run(root, ["--rm", "-m", "256", uniqueName("big"), "busybox", ...dd]);
    expect(big.stderr).toContain("1+0 records out");
    expect(big.stderr).not.toContain("out of memory");
    expect(big.code).toBe(0);

    const free = run(root, ["--rm", uniqueName("nolimit"), "busybox", ...dd]);
    expect(free.stderr).toContain("1+0 records out");
    expect(free.code).toBe(0);
  });

  test("inside: the limit, memsw = limit (no swap), its own cgroups as /, /sys/fs/cgroup read-only; the host agrees", async () => {
    const root = store();
    const name = uniqueName("mem");
    const c = await background(root, ["--rm", "-m", "48", name, "busybox", "sh", "-c", [
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
      "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
      "echo cgroup-begin; cat /proc/self/cgroup; echo cgroup-end",
      "mkdir /sys/fs/cgroup/memory/sub 2>/dev/null && echo mkdir-ok || echo mkdir-refused",
      "touch /sys/fs/cgroup/x 2>/dev/null && echo touch-ok || echo touch-refused",
      "echo ready; sleep 60",
    ].join("; ")]);
    await c.waitStdout("ready\n");
    const lines = c.stdout().split("\n");
    expect(lines[0]).toBe(String(48 * MiB));
    expect(lines[1]).toBe(String(48 * MiB));
    const own = lines.slice(lines.indexOf("cgroup-begin") + 1, lines.indexOf("cgroup-end"));
    expect(own.length).toBeGreaterThan(5);
    // The cgroup namespace: each hierarchy's path is "/" (the container's own cgroup is its root).
    for (const line of own) expect(line).toMatch(/^\d+:[^:]*:\/$/);
    expect(own.some((l) => /:memory:\/$/.test(l))).toBe(true);
    expect(c.stdout()).toContain("mkdir-refused\ntouch-refused\n");

    // From the host: the same limits, and the init is a member in every hierarchy diyc manages.
    expect(hostCgroupFile(root, "memory", name, "memory.limit_in_bytes")).toBe(String(48 * MiB));
    expect(hostCgroupFile(root, "memory", name, "memory.memsw.limit_in_bytes")).toBe(String(48 * MiB));
    for (const controller of ["memory", "cpu", "cpuacct", "cpuset", "pids", "devices"]) {
      expect([controller, hostCgroupFile(root, controller, name, "cgroup.procs").split("\n")]).toEqual([controller, [String(c.init)]]);
    }
    const hostView = readFileSync(`/proc/${c.init}/cgroup`, "utf8");
    expect(hostView).toContain(`:memory:/${cgroupParentOf(root)}/${name}\n`);
    // The runtime's own name for the parent is the one this file computes.
    expect(cgroupParentFor(new Store(root))).toBe(cgroupParentOf(root));

    expect(await c.stop()).toBe(137);
    // A SIGKILL from the host is not an OOM kill.
    expect(c.stderr()).not.toContain("out of memory");
  });
});

describeRoot("pids", () => {
  const forkLoop = [
    "cat /sys/fs/cgroup/pids/pids.max",
    // A subshell starts 30 sleeps; past the limit, fork fails (EAGAIN) and the subshell gives up.
    "(for i in $(seq 1 30); do sleep 60 & echo started $i; done) 2>/dev/null",
    "echo events $(cat /sys/fs/cgroup/pids/pids.events)",
    // The pid namespace's init kills every other process in it.
    "kill -9 -1",
  ].join("; ");
  const started = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("started ")).length;

  test("--pids-limit 10 holds a fork loop to 10 processes; without it, all 30 start", () => {
    const root = store();
    const limited = run(root, ["--rm", "--pids-limit", "10", uniqueName("pids"), "busybox", "sh", "-c", forkLoop]);
    expect(limited.code).toBe(0);
    const lines = limited.stdout.split("\n");
    expect(lines[0]).toBe("10");
    // 10 = the init sh + the subshell + 8 sleeps (the $(seq) has exited by then).
    expect(started(limited.stdout)).toBe(8);
    expect(limited.stdout).toMatch(/events max [1-9]\d*\n/);

    const unlimited = run(root, ["--rm", uniqueName("nopids"), "busybox", "sh", "-c", forkLoop]);
    expect(unlimited.code).toBe(0);
    expect(unlimited.stdout.split("\n")[0]).toBe("max");
    expect(started(unlimited.stdout)).toBe(30);
    expect(unlimited.stdout).toContain("events max 0\n");
  });
});

describeRoot("cpu", () => {
  /** Cores used by the container's cgroup over `ms`, from cpuacct.usage read on the host. */
  async function coresUsed(root: string, name: string, ms: number): Promise<number> {
    const usage = () => Number(hostCgroupFile(root, "cpuacct", name, "cpuacct.usage"));
    const u0 = usage();
    const t0 = performance.now();
    await Bun.sleep(ms);
    const u1 = usage();
    const t1 = performance.now();
    return (u1 - u0) / 1e6 / (t1 - t0);
  }

  // The quota and period, a busy loop for 5 s, then the CFS bandwidth counters the container saw.
  const busy = [
    "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
    "echo go",
    "timeout 5 sh -c 'while :; do :; done'",
    "echo stat $(cat /sys/fs/cgroup/cpu/cpu.stat)",
    "exit 0",
  ].join("; ");
  /** "nr_periods N nr_throttled N throttled_time N" -> numbers by name. */
  const cpuStat = (text: string) => Object.fromEntries([...text.matchAll(/(\w+) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));

  test("--cpus 0.5: quota 50000 per 100000 µs inside, and a busy loop gets about half a core, throttled", async () => {
    const root = store();
    const name = uniqueName("cpu");
    const c = await background(root, ["--rm", "--cpus", "0.5", name, "busybox", "sh", "-c", busy]);
    await c.waitStdout("go\n");
    expect(c.stdout().split("\n").slice(0, 2)).toEqual(["50000", "100000"]);
    expect(hostCgroupFile(root, "cpu", name, "cpu.cfs_quota_us")).toBe("50000");
    expect(hostCgroupFile(root, "cpu", name, "cpu.cfs_period_us")).toBe("100000");
    await Bun.sleep(300);
    const cores = await coresUsed(root, name, 3000);
    const host = cpuStat(hostCgroupFile(root, "cpu", name, "cpu.stat"));
    expect(await c.proc.exited).toBe(0);
    await c.stop();
    console.log(`--cpus 0.5: the busy loop used ${cores.toFixed(2)} cores; cpu.stat ${JSON.stringify(host)}`);
    expect(cores).toBeGreaterThan(0.3);
    expect(cores).toBeLessThan(0.7);
    // The kernel held it back: periods ran out of quota (most of them on an idle machine; fewer when
    // other work competes for the 2 CPUs, but never none, unlike a loop without a quota).
    expect(host.nr_throttled).toBeGreaterThan(3);
    const inside = cpuStat(c.stdout().split("\n").find((l) => l.startsWith("stat "))!);
    expect(inside.nr_throttled).toBeGreaterThanOrEqual(host.nr_throttled!);
    expect(inside.throttled_time).toBeGreaterThan(0);
  }, 20_000);

  test("without --cpus the same busy loop is never throttled (quota -1)", async () => {
    const root = store();
    const name = uniqueName("nocpu");
    const c = await background(root, ["--rm", name, "busybox", "sh", "-c", busy]);
    await c.waitStdout("go\n");
    expect(c.stdout().split("\n")[0]).toBe("-1");
    await Bun.sleep(300);
    const cores = await coresUsed(root, name, 3000);
    expect(await c.proc.exited).toBe(0);
    await c.stop();
    // The usage depends on what else runs on this 2-core machine, so it is only printed (about 1 when idle).
    console.log(`no --cpus: the busy loop used ${cores.toFixed(2)} cores`);
    expect(cores).toBeGreaterThan(0.1);
    const inside = cpuStat(c.stdout().split("\n").find((l) => l.startsWith("stat "))!);
    expect(inside).toMatchObject({ nr_throttled: 0, throttled_time: 0 });
  }, 20_000);

  test("--cpu-shares 512 and --cpuset-cpus 0, inside and from the host", () => {
    const root = store();
    const name = uniqueName("shares");
    const r = run(root, ["--rm", "--cpu-shares", "512", "--cpuset-cpus", "0", name, "busybox", "sh", "-c",
      "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe("512\n0\nCpus_allowed_list:\t0\n");
    const defaults = run(root, ["--rm", uniqueName("noshares"), "busybox", "sh", "-c",
      "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus"]);
    expect(defaults.stdout).toBe(`1024\n${readFileSync(join(CGROUP_ROOT, "cpuset", "cpuset.cpus"), "utf8").trim()}\n`);
  });
});

describeRoot("bad values", () => {
  test("exit 125, one line, and nothing created: no container directory, no cgroup", () => {
    const root = store();
    const cases: [string[], RegExp][] = [
      [["-m", "-5"], /^diyc: invalid --mem "-5"/],
      [["-m", "abc"], /^diyc: invalid --mem "abc"/],
      [["-m", "1k"], /^diyc: invalid --mem "1k"/],
      [["--cpus", "0"], /^diyc: invalid --cpus "0"/],
      [["--cpus", "99"], /^diyc: invalid --cpus "99"/],
      [["--cpu-shares", "1"], /^diyc: invalid --cpu-shares "1"/],
      [["--cpuset-cpus", "7-9"], /^diyc: invalid --cpuset-cpus "7-9"/],
      [["--pids-limit", "0"], /^diyc: invalid --pids-limit "0"/],
      [["--memory-swap", "1m", "-m", "64"], /^diyc: invalid --memory-swap "1m"/],
    ];
    for (const [flags, message] of cases) {
      const name = uniqueName("bad");
      const r = diyc(root, ["run", "--rm", ...flags, name, "busybox", "true"]);
      expect([flags, r.code]).toEqual([flags, 125]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split("\n")).toHaveLength(2);
      expect(r.stdout).toBe("");
      expect(existsSync(join(root, "containers", name))).toBe(false);
      expect(cgroupDirsOf(root)).toEqual([]);
    }
  });
});

describeRoot("when diyc run itself is SIGKILLed", () => {
  test("the monitor's cleanup hook removes the cgroups and the --rm container once the container ends", async () => {
    const root = store();
    const name = uniqueName("orphan");
    const c = await background(root, ["--rm", "-m", "32", name, "busybox", "sh", "-c", "echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    c.proc.kill("SIGKILL");
    expect(await c.proc.exited).toBe(137);
    // The container outlives diyc run, in its cgroup, with its limit.
    expect(processExists(c.init)).toBe(true);
    expect(processExists(c.monitor)).toBe(true);
    expect(hostCgroupFile(root, "memory", name, "memory.limit_in_bytes")).toBe(String(32 * MiB));
    expect(existsSync(join(root, "containers", name))).toBe(true);
    // What the check below must see disappear: the store's parent in each hierarchy diyc manages.
    expect(cgroupDirsOf(root).map((dir) => dir.split("/")[4]).sort()).toEqual(["cpu", "cpuacct", "cpuset", "devices", "memory", "pids"]);

    process.kill(c.init, "SIGKILL");
    const gone = () => cgroupDirsOf(root).length === 0 && !existsSync(join(root, "containers", name)) && !processExists(c.monitor);
    await until(gone, 5000, "the cleanup hook").catch(() => {});
    expect(cgroupDirsOf(root)).toEqual([]);
    expect(existsSync(join(root, "containers", name))).toBe(false);
    expect(processExists(c.init)).toBe(false);
    expect(processExists(c.monitor)).toBe(false);
  }, 20_000);
});

describeRoot("diyc stats", () => {
  test("--no-stream --format json: memory limit, pids and CPU of a running container; 125 for an unknown name", async () => {
    const root = store();
    const name = uniqueName("stats");
    const c = await background(root, ["--rm", "-m", "64", "--pids-limit", "20", "--cpus", "0.5", name, "busybox", "sh", "-c",
      "sleep 60 & sleep 60 & echo ready; while :; do :; done"]);
    await c.waitStdout("ready\n");
    await Bun.sleep(300);
    const r = diyc(root, ["stats", "--no-stream", "--format", "json", name]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const rows = JSON.parse(r.stdout);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({ name, memory_limit_bytes: 64 * MiB, pids: 3, pids_limit: 20 });
    expect(row.memory_usage_bytes).toBeGreaterThan(0);
    expect(row.memory_usage_bytes).toBeLessThan(64 * MiB);
    expect(row.memory_percent).toBeCloseTo((row.memory_usage_bytes / (64 * MiB)) * 100, 5);
    // The busy loop under --cpus 0.5: about 50% of one CPU.
    expect(row.cpu_percent).toBeGreaterThan(20);
    expect(row.cpu_percent).toBeLessThan(75);

    const all = JSON.parse(diyc(root, ["stats", "--no-stream", "--format", "json"]).stdout);
    expect(all.map((s: { name: string }) => s.name)).toEqual([name]);

    const unknown = diyc(root, ["stats", "--no-stream", "nosuch"]);
    expect(unknown).toMatchObject({ code: 125, stdout: "", stderr: "diyc: no such container: nosuch\n" });

    expect(await c.stop()).toBe(137);
    const after = diyc(root, ["stats", "--no-stream", name]);
    expect(after.code).toBe(125);
  }, 20_000);
});
