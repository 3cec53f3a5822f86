// diyc's resource limits on a pure cgroup v2 kernel, end to end through the
// real CLI (bin/diyc → build/diyc), as root. This file runs INSIDE the test
// VM (test/vm/init.sh runs `bun test` on it there); its name does not end in
// .test.ts so that `bun test` on the host, which is cgroup v1, never picks it
// up. The host side is test/vm/cgroups-v2-vm.test.ts: it boots the VM and
// reports each test below as its own test.
//
// The VM's "host" is the VM itself: /sys/fs/cgroup is a cgroup2 mount with
// every controller and nothing else (cgroup_no_v1=all). Each test has a store
// of its own, so its containers' cgroups are /sys/fs/cgroup/diyc-<hash of the
// store root>/NAME. Limits are checked from inside the container (what the
// kernel lets the workload do, and its read-only /sys/fs/cgroup, which the
// cgroup namespace makes the container's own cgroup) and from the VM's host
// side (the container's cgroup files). After each test: no cgroup directory
// of the store, no process, no mount, no container directory.

import { afterEach, describe, expect, test } from "bun:test";
import {
  appendFileSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { cgroupParentFor } from "../../../src/runtime/limits";
import { sharesToWeight } from "../../../src/cgroups/v2/cpu";
import { Store } from "../../../src/store/store";
import {
  DIYC, REPO, diyc, diycEnv, helperProcesses, mountsUnder, processExists, removeStore, tempStore, type Result,
} from "../../helpers/diyc";
import { type Background, cgroupParentOf, runTraced, startTraced, uniqueName, until } from "../../helpers/traced-runs";

const CGROUP_ROOT = "/sys/fs/cgroup";
const BUILT_DIYC = join(REPO, "build/diyc");
const MiB = 1024 * 1024;

// Refuse to run anywhere but a pure v2 host: on v1 these assertions mean nothing.
const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
if (!/ - cgroup2 /.test(mountinfo) || / - cgroup /.test(mountinfo)) {
  throw new Error("cgroups-v2.guest.ts runs only on a pure cgroup v2 host (the test VM); see test/vm/cgroups-v2-vm.test.ts");
}

const cgroupDir = (root: string, name: string) => join(CGROUP_ROOT, cgroupParentOf(root), name);
const hostCgroupFile = (root: string, name: string, file: string) => readFileSync(join(cgroupDir(root, name), file), "utf8").trim();
/** "key value" lines (memory.events, cpu.stat, pids.events) → numbers by key. */
const keyed = (text: string) => Object.fromEntries([...text.matchAll(/^(\w+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));

interface Case {
  root: string;
  /** Every init and monitor pid this test's runs printed (-v). */
  pids: number[];
}
let current: Case | undefined;

function store(): string {
  const root = tempStore("diyc-v2-");
  current = { root, pids: [] };
  return root;
}

afterEach(async () => {
  if (!current) return;
  const { root, pids } = current;
  current = undefined;
  try {
    // An empty, removed cgroup proves no process of the containers is left (rmdir fails while one is a member);
    // the monitors are not in it, so each is checked by its pid. A monitor ends by running the cleanup hook
    // (it execs diyc), which may still be finishing when `rm -f` returns: on this emulated CPU that takes a
    // moment, so it gets a few seconds to end, and must end.
    expect(existsSync(join(CGROUP_ROOT, cgroupParentOf(root)))).toBe(false);
    await until(() => !pids.some(processExists), 10_000, "the monitors to end").catch(() => {});
    expect(pids.filter(processExists)).toEqual([]);
    const containers = join(root, "containers");
    expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
  } finally {
    removeStore(root); // checks that no mount and no cgroup of the store is left, then deletes it
  }
  // The VM runs nothing but these tests, so here (unlike on a shared host) "no diyc process at all" is a
  // valid check: no helper (monitor or init) and no diyc binary is left running.
  await until(() => helperProcesses().length === 0 && diycProcesses().length === 0, 10_000, "no diyc process").catch(() => {});
  expect(helperProcesses()).toEqual([]);
  expect(diycProcesses()).toEqual([]);
  // Nothing of any store anywhere: no diyc cgroup at all under the root, no overlay mounted.
  expect(readdirSync(CGROUP_ROOT).filter((e) => e.startsWith("diyc"))).toEqual([]);
  expect(readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => l.startsWith("overlay "))).toEqual([]);
});

/** Live processes running build/diyc (a cleanup hook the monitor exec'd, a stray diyc command). */
function diycProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || !processExists(Number(entry))) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === BUILT_DIYC) found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ")}`);
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return found;
}

/** `diyc run -v ARGS`, its pids recorded for afterEach (test/helpers/traced-runs.ts). */
const run = (root: string, args: string[]): Result => runTraced(root, args, current?.pids);
/** In the background; the VM is emulated: everything is slower, hence the long waits. */
const background = (root: string, args: string[]): Promise<Background> => startTraced(root, args, current?.pids, 30_000);

describe("memory", () => {
  test("-m 16: dd of 64 MiB is OOM-killed (137, one line; inspect says oomKilled); -m 256 lets it run", () => {
    const root = store();
    const dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    const small = uniqueName("oom");
    const killed = run(root, ["--rm", "-m", "16", small, "busybox", ...dd]);
    expect(killed).toMatchObject({ code: 137, stderr: `diyc: container ${small} was killed: out of memory (limit 16 MiB)\n` });
    // Kept (no --rm): the exit record says what happened.
    const kept = uniqueName("oomkept");
    expect(run(root, ["-m", "16", kept, "busybox", ...dd]).code).toBe(137);
    const inspected = JSON.parse(diyc(root, ["inspect", kept]).stdout)[0];
    expect(inspected).toMatchObject({ name: kept, status: "exited", exitCode: 137, oomKilled: true });
    expect(diyc(root, ["rm", kept]).code).toBe(0);

    const big = run(root, ["--rm", "-m", "256", uniqueName("big"), "busybox", ...dd]);
    expect(big.stderr).toContain("1+0 records out");
    expect(big.stderr).not.toContain("out of memory");
    expect(big.code).toBe(0);
  });

  test("inside: memory.max, memory.swap.max 0, its own cgroup as /, /sys/fs/cgroup read-only; the host agrees", async () => {
    const root = store();
    const name = uniqueName("mem");
    const c = await background(root, ["--rm", "-m", "48", name, "busybox", "sh", "-c", [
      "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max /proc/self/cgroup",
      "mkdir /sys/fs/cgroup/sub 2>/dev/null && echo mkdir-ok || echo mkdir-refused",
      "echo max > /sys/fs/cgroup/memory.max 2>/dev/null && echo write-ok || echo write-refused",
      "echo ready; sleep 60",
    ].join("; ")]);
    await c.waitStdout("ready\n");
    // Inside: the limit, no swap, and (the cgroup namespace) its own cgroup is the root "0::/".
    expect(c.stdout()).toBe(`${48 * MiB}\n0\n0::/\nmkdir-refused\nwrite-refused\nready\n`);

    // From the host: the same files, the init is the one member, and its cgroup is PARENT/NAME.
    expect(hostCgroupFile(root, name, "memory.max")).toBe(String(48 * MiB));
    expect(hostCgroupFile(root, name, "memory.swap.max")).toBe("0");
    expect(hostCgroupFile(root, name, "cgroup.procs")).toBe(String(c.init));
    expect(readFileSync(`/proc/${c.init}/cgroup`, "utf8")).toBe(`0::/${cgroupParentOf(root)}/${name}\n`);
    expect(cgroupParentFor(new Store(root))).toBe(cgroupParentOf(root));
    // The parent passes the controllers down (subtree_control), so the container's cgroup has them.
    for (const controller of ["cpuset", "cpu", "memory", "pids"]) {
      expect(hostCgroupFile(root, name, "cgroup.controllers").split(" ")).toContain(controller);
    }

    expect(await c.stop()).toBe(137);
    expect(c.stderr()).not.toContain("out of memory");
  });

  test("from the host: memory.events counts the OOM kill of a process inside, while the container lives on", async () => {
    const root = store();
    const name = uniqueName("oomchild");
    const c = await background(root, ["--rm", "-m", "16", name, "busybox", "sh", "-c",
      "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?; echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    expect(c.stdout()).toBe("dd=137\nready\n");
    const events = keyed(hostCgroupFile(root, name, "memory.events"));
    expect(events.oom_kill).toBe(1);
    expect(events.max).toBeGreaterThan(0);
    expect(hostCgroupFile(root, name, "cgroup.procs")).toBe(String(c.init));
    expect(await c.stop()).toBe(137);
  }, 120_000);
});

describe("swap", () => {
  // The VM has a 256 MiB zram swap device (test/vm/init.sh).
  const dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=48M", "count=1"];

  test("--memory-swap 128m with -m 16: memory.swap.max is 112 MiB and a 48 MiB dd runs, partly in swap", async () => {
    const root = store();
    expect(readFileSync("/proc/swaps", "utf8")).toContain("/dev/zram0");
    const name = uniqueName("swap");
    const c = await background(root, ["--rm", "-m", "16", "--memory-swap", "128m", name, "busybox", "sh", "-c",
      `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max; echo ready; ${dd.join(" ")}; echo dd=$?; echo done; sleep 60`]);
    await c.waitStdout("ready\n");
    expect(hostCgroupFile(root, name, "memory.max")).toBe(String(16 * MiB));
    expect(hostCgroupFile(root, name, "memory.swap.max")).toBe(String(112 * MiB));
    await c.waitStdout("done\n", 60_000);
    const lines = c.stdout().split("\n");
    expect(lines.slice(0, 2)).toEqual([String(16 * MiB), String(112 * MiB)]);
    expect(c.stdout()).toContain("dd=0\n");
    expect(c.stderr()).toContain("1+0 records out");
    // 48 MiB went through a 16 MiB cgroup: memory hit its max and the kernel swapped rather than kill.
    const events = keyed(hostCgroupFile(root, name, "memory.events"));
    expect(events.max).toBeGreaterThan(0);
    expect(events.oom_kill).toBe(0);
    expect(await c.stop()).toBe(137);
  }, 120_000);

  test("-m 16 alone (swap = limit): the same dd is OOM-killed, swap.max 0; --memory-swap -1 is swap.max 'max'", () => {
    const root = store();
    const name = uniqueName("noswap");
    const r = run(root, ["--rm", "-m", "16", name, "busybox", "sh", "-c", `cat /sys/fs/cgroup/memory.swap.max; ${dd.join(" ")}`]);
    expect(r).toMatchObject({ code: 137, stdout: "0\n", stderr: `diyc: container ${name} was killed: out of memory (limit 16 MiB)\n` });
    const unlimited = run(root, ["--rm", "-m", "16", "--memory-swap", "-1", uniqueName("anyswap"), "busybox", "sh", "-c",
      `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max; ${dd.join(" ")}`]);
    expect(unlimited.stdout).toBe(`${16 * MiB}\nmax\n`);
    expect(unlimited.stderr).toContain("1+0 records out");
    expect(unlimited.code).toBe(0);
  });
});

describe("pids", () => {
  const forkLoop = [
    "cat /sys/fs/cgroup/pids.max",
    "(for i in $(seq 1 30); do sleep 60 & echo started $i; done) 2>/dev/null",
    "echo events $(cat /sys/fs/cgroup/pids.events)",
    "kill -9 -1",
  ].join("; ");
  const started = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("started ")).length;

  test("--pids-limit 10 holds a fork loop to 10 processes (pids.events max > 0); without it, all 30 start", () => {
    const root = store();
    const limited = run(root, ["--rm", "--pids-limit", "10", uniqueName("pids"), "busybox", "sh", "-c", forkLoop]);
    expect(limited.code).toBe(0);
    expect(limited.stdout.split("\n")[0]).toBe("10");
    // 10 = the init sh + the subshell + 8 sleeps (the $(seq) has exited by then).
    expect(started(limited.stdout)).toBe(8);
    expect(limited.stdout).toMatch(/events max [1-9]\d*\n/);

    const unlimited = run(root, ["--rm", uniqueName("nopids"), "busybox", "sh", "-c", forkLoop]);
    expect(unlimited.code).toBe(0);
    expect(unlimited.stdout.split("\n")[0]).toBe("max");
    expect(started(unlimited.stdout)).toBe(30);
    expect(unlimited.stdout).toContain("events max 0\n");
  });

  test("from the host: pids.max, pids.events, and pids.current counting the fork loop's survivors", async () => {
    const root = store();
    const name = uniqueName("pidshost");
    const c = await background(root, ["--rm", "--pids-limit", "10", name, "busybox", "sh", "-c",
      "(for i in $(seq 1 30); do sleep 60 & done) 2>/dev/null; echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    expect(hostCgroupFile(root, name, "pids.max")).toBe("10");
    // The init and the 8 sleeps the subshell left (busybox sh execs its last command, so the init is now a sleep too).
    expect(hostCgroupFile(root, name, "pids.current")).toBe("9");
    expect(hostCgroupFile(root, name, "cgroup.procs").split("\n")).toHaveLength(9);
    expect(keyed(hostCgroupFile(root, name, "pids.events")).max).toBeGreaterThan(0);
    expect(await c.stop()).toBe(137);
  }, 120_000);
});

describe("cpu", () => {
  test("--cpus 0.5: cpu.max '50000 100000' inside and from the host, and a busy loop is throttled", async () => {
    const root = store();
    const name = uniqueName("cpu");
    const c = await background(root, ["--rm", "--cpus", "0.5", name, "busybox", "sh", "-c",
      "cat /sys/fs/cgroup/cpu.max; echo go; timeout 2 sh -c 'while :; do :; done'; cat /sys/fs/cgroup/cpu.stat; echo done; sleep 60"]);
    await c.waitStdout("go\n");
    expect(c.stdout().split("\n")[0]).toBe("50000 100000");
    expect(hostCgroupFile(root, name, "cpu.max")).toBe("50000 100000");
    await c.waitStdout("done\n", 60_000);
    const inside = keyed(c.stdout());
    const host = keyed(hostCgroupFile(root, name, "cpu.stat"));
    console.log(`--cpus 0.5 in the VM: cpu.stat ${JSON.stringify(host)}`);
    // The kernel held the loop back: periods ran out of quota.
    expect(inside.nr_throttled).toBeGreaterThan(0);
    expect(inside.throttled_usec).toBeGreaterThan(0);
    expect(host.nr_throttled).toBeGreaterThanOrEqual(inside.nr_throttled!);
    expect(await c.stop()).toBe(137);
  }, 120_000);

  test("--cpu-shares 512 is cpu.weight 20; no flags leave cpu.max 'max 100000' and weight 100", () => {
    const root = store();
    const r = run(root, ["--rm", "--cpu-shares", "512", uniqueName("weight"), "busybox", "cat", "/sys/fs/cgroup/cpu.weight"]);
    expect(r).toMatchObject({ code: 0, stdout: `${sharesToWeight(512)}\n`, stderr: "" });
    expect(sharesToWeight(512)).toBe(20); // runc's and crun's formula, checked by hand
    const defaults = run(root, ["--rm", uniqueName("noweight"), "busybox", "cat", "/sys/fs/cgroup/cpu.weight", "/sys/fs/cgroup/cpu.max"]);
    expect(defaults).toMatchObject({ code: 0, stdout: "100\nmax 100000\n", stderr: "" });
  });
});

describe("cpuset", () => {
  test("--cpuset-cpus 1: cpuset.cpus(.effective) inside and from the host, and the scheduler's Cpus_allowed_list", async () => {
    const root = store();
    const name = uniqueName("cpuset");
    const c = await background(root, ["--rm", "--cpuset-cpus", "1", name, "busybox", "sh", "-c",
      "cat /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/cpuset.cpus.effective; grep Cpus_allowed_list /proc/self/status; echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    expect(c.stdout()).toBe("1\n1\nCpus_allowed_list:\t1\nready\n");
    expect(hostCgroupFile(root, name, "cpuset.cpus")).toBe("1");
    expect(hostCgroupFile(root, name, "cpuset.cpus.effective")).toBe("1");
    expect(readFileSync(`/proc/${c.init}/status`, "utf8")).toContain("Cpus_allowed_list:\t1\n");
    expect(await c.stop()).toBe(137);

    // Without the flag: every CPU of the VM.
    const all = readFileSync(join(CGROUP_ROOT, "cpuset.cpus.effective"), "utf8").trim();
    const free = run(root, ["--rm", uniqueName("nocpuset"), "busybox", "cat", "/sys/fs/cgroup/cpuset.cpus.effective"]);
    expect(free).toMatchObject({ code: 0, stdout: `${all}\n` });
  }, 120_000);
});

describe("devices (the eBPF program)", () => {
  test("a container opens /dev/null and a node it made of 1:3, but not /dev/kmsg 1:11 or a disk 8:0 (EPERM); mknod itself is allowed (--cap-add MKNOD)", () => {
    const root = store();
    // The host can open what the container may not: the refusal below is the program's, not the node's.
    closeSync(openSync("/dev/kmsg", "r"));
    const script = [
      "echo x > /dev/null && echo null-ok",
      "mknod /tmp/null2 c 1 3 && echo mknod-null-ok; echo x > /tmp/null2 && echo open-null2-ok",
      "mknod /tmp/kmsg c 1 11 && echo mknod-kmsg-ok; cat /tmp/kmsg 2>&1 | head -1",
      "mknod /tmp/sda b 8 0 && echo mknod-sda-ok; head -c1 /tmp/sda 2>&1 | head -1",
    ].join("; ");
    // CAP_MKNOD is not in the default set (podman's): given here, so the program is what refuses.
    const r = run(root, ["--rm", "--cap-add", "MKNOD", uniqueName("dev"), "busybox", "sh", "-c", script]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([
      "null-ok", "mknod-null-ok", "open-null2-ok",
      "mknod-kmsg-ok", "cat: can't open '/tmp/kmsg': Operation not permitted",
      "mknod-sda-ok", "head: /tmp/sda: Operation not permitted", "",
    ].join("\n"));
  });

  test("from the host: a host process moved into the container's cgroup is under the same program", async () => {
    const root = store();
    const name = uniqueName("devhost");
    const c = await background(root, ["--rm", name, "busybox", "sh", "-c", "echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    const procs = join(cgroupDir(root, name), "cgroup.procs");
    // A host shell (host /dev, no namespaces) joins the cgroup, then tries /dev/kmsg and /dev/null.
    const probe = Bun.spawnSync(["/bin/busybox", "sh", "-c",
      `echo $$ > ${procs} && cat /proc/self/cgroup; cat /dev/kmsg 2>&1 | head -1; echo x > /dev/null && echo null-ok`]);
    expect(probe.stdout.toString()).toBe(`0::/${cgroupParentOf(root)}/${name}\ncat: can't open '/dev/kmsg': Operation not permitted\nnull-ok\n`);
    expect(await c.stop()).toBe(137);
  }, 120_000);
});

describe("the front (docs/start-path.md) on cgroup v2", () => {
  test("a repeated run is replayed without Bun: the same limits inside, the device program, the same output", async () => {
    const root = store();
    const name = uniqueName("front");
    // /dev/kmsg (1:11) made by the container (CAP_MKNOD given): the device program refuses it.
    const script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; mknod /tmp/kmsg c 1 11; cat /tmp/kmsg 2>&1 | head -1; sleep 1";
    const args = ["run", "--rm", "-m", "32", "--pids-limit", "20", "--cap-add", "MKNOD", name, "busybox", "sh", "-c", script];
    const expected = `${32 * MiB}\n20\ncat: can't open '/tmp/kmsg': Operation not permitted\n`;
    // The first run is diyc's (Bun), and is recorded (through the hand-off: it lasts a second).
    expect(diyc(root, args)).toMatchObject({ code: 0, stdout: expected, stderr: "" });
    expect(readdirSync(join(root, "prepared"))).toHaveLength(1);
    // The second is the front's: the process the user started is build/diyc-front while it waits.
    const replay = Bun.spawn([DIYC, "--root", root, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    const state = join(root, "containers", name, "state.json");
    await until(() => existsSync(state) && readFileSync(state, "utf8").includes("startedAtMs"), 30_000, "the replayed container to start");
    expect(readlinkSync(`/proc/${replay.pid}/exe`)).toBe(join(REPO, "build/diyc-front"));
    expect(await replay.exited).toBe(0);
    expect(await new Response(replay.stdout).text()).toBe(expected);
    expect(await new Response(replay.stderr).text()).toBe("");
  }, 120_000);
});

describe("diyc stats", () => {
  test("--no-stream --format json: memory limit, pids and CPU of a running container; 125 for an unknown name", async () => {
    const root = store();
    const name = uniqueName("stats");
    const c = await background(root, ["--rm", "-m", "64", "--pids-limit", "20", "--cpus", "0.5", name, "busybox", "sh", "-c",
      "sleep 60 & sleep 60 & echo ready; while :; do :; done"]);
    await c.waitStdout("ready\n");
    await Bun.sleep(500);
    const r = diyc(root, ["stats", "--no-stream", "--format", "json", name]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const rows = JSON.parse(r.stdout);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({ name, memory_limit_bytes: 64 * MiB, pids: 3, pids_limit: 20 });
    expect(row.memory_usage_bytes).toBeGreaterThan(0);
    expect(row.memory_usage_bytes).toBeLessThan(64 * MiB);
    // The busy loop under --cpus 0.5: at most about half a CPU (less when the emulated VM is busy).
    expect(row.cpu_percent).toBeGreaterThan(5);
    expect(row.cpu_percent).toBeLessThan(75);
    // The same numbers the host reads from the cgroup.
    expect(Number(hostCgroupFile(root, name, "pids.current"))).toBe(3);

    const unknown = diyc(root, ["stats", "--no-stream", "nosuch"]);
    expect(unknown).toMatchObject({ code: 125, stdout: "", stderr: "diyc: no such container: nosuch\n" });
    expect(await c.stop()).toBe(137);
  }, 120_000);
});

describe("diyc exec", () => {
  test("the exec'd process joins the container's cgroup (0::/ inside, PARENT/NAME from the host) and its limits", async () => {
    const root = store();
    const name = uniqueName("exec");
    const c = await background(root, ["--rm", "--pids-limit", "5", "-m", "32", name, "busybox", "sh", "-c", "echo ready; sleep 60"]);
    await c.waitStdout("ready\n");
    const r = diyc(root, ["exec", name, "sh", "-c",
      "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/cgroup.procs > /tmp/procs; wc -l < /tmp/procs"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    // The init, the exec'd sh and its cat: 3 processes in the container's cgroup
    // (a pipe into wc would race: wc may or may not have started when cat reads).
    expect(r.stdout).toBe(`0::/\n5\n${32 * MiB}\n3\n`);
    // From the host, while an exec'd sleep runs: it is a member of the container's cgroup.
    const sleeper = Bun.spawn([DIYC, "--root", root, "exec", name, "sleep", "30"], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: diycEnv(root) });
    const members = () => hostCgroupFile(root, name, "cgroup.procs").split("\n").filter(Boolean).map(Number);
    const cmdline = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        return "";
      }
    };
    // The helper joins the cgroup first, then execs sleep in it.
    await until(() => members().some((p) => cmdline(p) === "sleep\x0030\x00"), 30_000, "the exec'd sleep in cgroup.procs");
    const execPid = members().find((p) => cmdline(p) === "sleep\x0030\x00")!;
    expect(members().sort()).toEqual([c.init, execPid].sort());
    expect(readFileSync(`/proc/${execPid}/cgroup`, "utf8")).toBe(`0::/${cgroupParentOf(root)}/${name}\n`);
    expect(await c.stop()).toBe(137);
    // The init's death ends the pid namespace, and with it the exec'd sleep.
    await sleeper.exited;
    expect(processExists(execPid)).toBe(false);
  }, 120_000);
});

describe("lifecycle", () => {
  test("stop removes the cgroup; start makes it again with the same limits, around the new init", async () => {
    const root = store();
    const name = uniqueName("life");
    expect(run(root, ["-d", "-m", "32", "--pids-limit", "20", "--cpus", "0.5", name, "busybox", "sleep", "60"]).code).toBe(0);
    const firstInit = Number(hostCgroupFile(root, name, "cgroup.procs"));
    expect(diyc(root, ["stop", "-t", "1", name])).toMatchObject({ code: 0, stderr: "" });
    expect(existsSync(cgroupDir(root, name))).toBe(false);
    expect(processExists(firstInit)).toBe(false);

    expect(diyc(root, ["start", name])).toMatchObject({ code: 0, stderr: "" });
    const secondInit = Number(hostCgroupFile(root, name, "cgroup.procs"));
    expect(secondInit).not.toBe(firstInit);
    current!.pids.push(secondInit);
    expect(hostCgroupFile(root, name, "memory.max")).toBe(String(32 * MiB));
    expect(hostCgroupFile(root, name, "pids.max")).toBe("20");
    expect(hostCgroupFile(root, name, "cpu.max")).toBe("50000 100000");
    expect(readFileSync(`/proc/${secondInit}/cgroup`, "utf8")).toBe(`0::/${cgroupParentOf(root)}/${name}\n`);
    expect(diyc(root, ["rm", "-f", name]).code).toBe(0);
  }, 120_000);

  test("--restart on-failure:2 after OOM kills: the monitor restarts it twice, then records the OOM", async () => {
    const root = store();
    const name = uniqueName("restart");
    const d = run(root, ["-d", "--restart", "on-failure:2", "-m", "16", name, "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    expect(d.code).toBe(0);
    const inspect = () => JSON.parse(diyc(root, ["inspect", name]).stdout)[0];
    // "exited" shows as soon as the monitor records the exit; the OOM is recorded a moment later by its
    // cleanup hook (which reads memory.events before it removes the cgroup), so wait for both.
    const settled = () => {
      const i = inspect();
      return i?.status === "exited" && i.restartCount === 2 && i.oomKilled === true;
    };
    await until(settled, 60_000, "two restarts and the final OOM").catch(() => {});
    expect(inspect()).toMatchObject({ status: "exited", exitCode: 137, oomKilled: true, restartCount: 2 });
    // The exited container holds no cgroup (and the store no parent).
    expect(existsSync(join(CGROUP_ROOT, cgroupParentOf(root)))).toBe(false);
    expect(diyc(root, ["rm", name]).code).toBe(0);
  }, 120_000);
});

describe("concurrency", () => {
  test("six containers with limits started at once, three rounds: every one runs in its own cgroup; the shared parent comes and goes", async () => {
    const root = store();
    for (let round = 0; round < 3; round++) {
      const names = Array.from({ length: 6 }, (_, i) => uniqueName(`par${round}${i}`));
      const runs = names.map((name) => {
        const proc = Bun.spawn([DIYC, "--root", root, "run", "--rm", "-m", "32", "--pids-limit", "20", name, "busybox", "sh", "-c",
          "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /proc/self/cgroup"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
        return Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      });
      const results = await Promise.all(runs);
      expect(results.map(([code, stdout, stderr]) => ({ code, stdout, stderr })))
        .toEqual(names.map(() => ({ code: 0, stdout: `${32 * MiB}\n20\n0::/\n`, stderr: "" })));
      // The last one out removed the store's parent.
      expect(existsSync(join(CGROUP_ROOT, cgroupParentOf(root)))).toBe(false);
    }
  }, 180_000);
});

describe("cleanup", () => {
  test("rm -f of a detached container with limits removes its cgroup and the store's parent; nothing is mounted", () => {
    const root = store();
    const name = uniqueName("rmf");
    const d = run(root, ["-d", "-m", "32", "--pids-limit", "50", "--cpus", "0.5", name, "busybox", "sleep", "60"]);
    expect(d.code).toBe(0);
    expect(hostCgroupFile(root, name, "cgroup.procs")).toMatch(/^\d+$/);
    expect(diyc(root, ["rm", "-f", name])).toMatchObject({ code: 0 });
    expect(existsSync(cgroupDir(root, name))).toBe(false);
    expect(existsSync(join(CGROUP_ROOT, cgroupParentOf(root)))).toBe(false);
    expect(mountsUnder(root)).toEqual([]);
  });
});

describe("rootless", () => {
  test("an ordinary user's limits apply in a cgroup of the subtree delegated to them; outside one, limits are refused in one line", async () => {
    // The user, their subordinate ids and a delegated subtree, as an administrator (or systemd's Delegate=yes) would make them.
    const uid = 1500;
    const etc = ["/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"].map((path) => [path, existsSync(path) ? readFileSync(path, "utf8") : undefined] as const);
    const delegated = join(CGROUP_ROOT, "rl.delegate");
    const storeRoot = tempStore("diyc-v2-rootless-");
    const asUser = (cgroup: string, args: string[]) => {
      const child = Bun.spawnSync(["sh", "-c", `echo $$ > ${cgroup}/cgroup.procs && exec /usr/bin/setpriv --reuid=${uid} --regid=${uid} --clear-groups -- "$@"`,
        "sh", BUILT_DIYC, "--root", storeRoot, ...args], { env: { PATH: "/bin:/usr/bin", HOME: "/tmp" } });
      return { code: child.exitCode, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
    };
    try {
      appendFileSync("/etc/passwd", `rl:x:${uid}:${uid}::/tmp:/bin/sh\n`);
      appendFileSync("/etc/group", `rl:x:${uid}:\n`);
      for (const file of ["/etc/subuid", "/etc/subgid"]) appendFileSync(file, "rl:300000:65536\n");
      chownSync(storeRoot, uid, uid);
      writeFileSync(join(CGROUP_ROOT, "cgroup.subtree_control"), "+memory +pids");
      mkdirSync(delegated);
      for (const file of ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"]) chownSync(join(delegated, file), uid, uid);
      mkdirSync(join(delegated, "session"));

      // Inside the subtree: the container's cgroup is the user's, under it, with the limits.
      const inside = asUser(join(delegated, "session"), ["run", "--rm", "-m", "32", "--pids-limit", "20", "--name", "rl1", "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; grep -c . /proc/self/uid_map"]);
      expect(inside).toMatchObject({ code: 0, stdout: `${32 * MiB}\n20\n2\n`, stderr: "" });
      const detached = asUser(join(delegated, "session"), ["run", "-d", "-m", "32", "--name", "rl2", "busybox", "sleep", "60"]);
      expect(detached.code).toBe(0);
      const parents = readdirSync(delegated).filter((e) => e.startsWith("diyc-"));
      expect(parents).toHaveLength(1);
      expect(readFileSync(join(delegated, parents[0]!, "rl2", "memory.max"), "utf8")).toBe(`${32 * MiB}\n`);
      expect(statSync(join(delegated, parents[0]!, "rl2")).uid).toBe(uid);
      expect(asUser(join(delegated, "session"), ["rm", "-f", "rl2"]).code).toBe(0);
      expect(readdirSync(delegated).filter((e) => e.startsWith("diyc-"))).toEqual([]);

      // Outside any subtree of the user's (the tests' own cgroup is root's): refused before anything is made; no limit, no refusal.
      const outside = asUser(join(CGROUP_ROOT, "ci.scope"), ["run", "--rm", "-m", "32", "--name", "rl3", "busybox", "true"]);
      expect(outside.code).toBe(125);
      expect(outside.stderr).toMatch(/^diyc: rootless: cgroup limits \(memory\) cannot be applied: diyc's cgroup is in no cgroup v2 subtree delegated to you.*\n$/);
      expect(asUser(join(CGROUP_ROOT, "ci.scope"), ["run", "--rm", "--name", "rl3", "busybox", "true"]).code).toBe(0);
      expect(readdirSync(join(storeRoot, "containers"))).toEqual([]);
    } finally {
      // Whatever a failure left in the subtree (this test's processes only) is killed, deepest first, then the subtree goes.
      const dirs = existsSync(delegated) ? readdirSync(delegated, { recursive: true, withFileTypes: true })
        .filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort((a, b) => b.length - a.length) : [];
      for (const dir of [...dirs, delegated].filter(existsSync)) {
        writeFileSync(join(dir, "cgroup.kill"), "1");
        await until(() => readFileSync(join(dir, "cgroup.procs"), "utf8") === "", 10_000, `${dir} to empty`).catch(() => {});
        rmdirSync(dir);
      }
      for (const [path, text] of etc) if (text !== undefined) writeFileSync(path, text);
      removeStore(storeRoot);
    }
  }, 180_000);
});
