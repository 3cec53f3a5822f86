// podman 4.3 runs its containers with bin/diyc-oci (through conmon, which is
// the monitor): each case is what a podman user would type, checked by what
// podman reports and what the container sees. podman gets a store, run dir,
// tmp dir, network config dir and containers.conf of the test's own
// (CONTAINERS_CONF), cgroupfs under a cgroup parent of its own, and
// --network none. Afterwards: no container state, mount, cgroup or process
// of the test is left (processes are found by the test's cgroup parent:
// other tests on this machine run helpers of their own at the same time).
//
// This host has no CAP_SYS_RESOURCE, so podman's default rlimits (nofile and
// nproc raised to 1048576 / 4194304) cannot be set by any runtime (runc fails
// the same way); the test's containers.conf asks for the host's own limits.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRoot } from "../helpers/diyc";
import {
  DIYC_OCI, makeBusyboxRootfs, mountsMentioning, OCI_ROOT, processesInCgroupsMentioning, removeCgroupTree, topCgroups,
} from "../helpers/oci";

const hasPodman = existsSync("/usr/bin/podman") && existsSync("/usr/bin/conmon");
const describePodman = isRoot && hasPodman ? describe : describe.skip;

const IMAGE = "oci-test-busybox";
let dir: string;
let cgroupParent: string;
let stateBefore: string[];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function podman(args: string[], timeoutMs = 30_000): Result {
  const child = Bun.spawnSync([
    "podman", "--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--storage-driver", "overlay",
    "--runtime", DIYC_OCI, "--cgroup-manager", "cgroupfs", ...args,
  ], {
    stdin: "ignore",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CONTAINERS_CONF: join(dir, "containers.conf"), HOME: dir },
    timeout: timeoutMs,
  });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

/** podman run --rm in the test's cgroup parent, without a network. */
function run(flags: string[], command: string[]): Result {
  return podman(["run", "--rm", "--network", "none", "--cgroup-parent", cgroupParent, ...flags, IMAGE, ...command]);
}

function hostLimit(flag: string): string {
  return execFileSync("sh", ["-c", `ulimit -H${flag}`], { encoding: "utf8" }).trim();
}

beforeAll(() => {
  if (!isRoot || !hasPodman) return;
  dir = mkdtempSync("/tmp/oci-test-podman-");
  cgroupParent = `/${dir.split("/").pop()}`;
  stateBefore = existsSync(OCI_ROOT) ? readdirSync(OCI_ROOT) : [];
  for (const d of ["tmp", "net", "img"]) execFileSync("mkdir", ["-p", join(dir, d)]);
  makeBusyboxRootfs(join(dir, "img"));
  execFileSync("tar", ["-C", join(dir, "img"), "-cf", join(dir, "busybox.tar"), "."]);
  const nofile = hostLimit("n");
  writeFileSync(join(dir, "containers.conf"), `[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
runtime_supports_json = ["diyc-oci"]
tmp_dir = "${dir}/tmp"
volume_path = "${dir}/volumes"
[engine.runtimes]
diyc-oci = ["${DIYC_OCI}"]
[network]
network_config_dir = "${dir}/net"
`);
  const imported = podman(["import", "--quiet", join(dir, "busybox.tar"), IMAGE]);
  expect(imported.code).toBe(0);
});

afterAll(() => {
  if (!isRoot || !hasPodman) return;
  podman(["rm", "--all", "--force", "--time", "0"]);
  podman(["system", "reset", "--force"]);
  // podman's overlay driver keeps its home bind-mounted on itself; unmount whatever of ours is left.
  for (const line of mountsMentioning(dir).reverse()) {
    const mountpoint = line.split(" ")[4]!;
    Bun.spawnSync(["umount", "-l", mountpoint]);
  }
  for (const cgroup of topCgroups(cgroupParent.slice(1))) removeCgroupTree(cgroup);
  // Nothing of the test's is left: state, mounts, cgroups, processes, helpers.
  expect((existsSync(OCI_ROOT) ? readdirSync(OCI_ROOT) : []).filter((n) => !stateBefore.includes(n))).toEqual([]);
  expect(mountsMentioning(dir)).toEqual([]);
  expect(topCgroups(cgroupParent.slice(1))).toEqual([]);
  expect(processesInCgroupsMentioning(cgroupParent)).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

describePodman("podman --runtime bin/diyc-oci", () => {
  test("exit status, output, hostname, -e and -w", () => {
    const r = run(["--hostname", "oci-test-h", "-e", "GREETING=hello", "-w", "/tmp"], ["sh", "-c", "hostname; echo $GREETING; pwd; echo $$; exit 3"]);
    expect(r.stdout).toBe("oci-test-h\nhello\n/tmp\n1\n");
    expect(r.code).toBe(3);
  });

  test("-u 1000: the user and group, no effective capabilities", () => {
    const r = run(["-u", "1000"], ["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"]);
    expect(r.stdout).toBe("1000\n1000\nCapEff:\t0000000000000000\n");
    expect(r.code).toBe(0);
  });

  test("--read-only: / refuses writes, podman's tmpfs on /tmp takes them", () => {
    const r = run(["--read-only"], ["sh", "-c", "touch /x 2>&1; echo root=$?; touch /tmp/y && echo tmp=$?"]);
    expect(r.stdout).toContain("Read-only file system");
    expect(r.stdout).toContain("root=1\ntmp=0\n");
  });

  test("a missing command exits 127 with podman's not-found message", () => {
    const r = run([], ["oci-test-no-such-command"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain("executable file not found");
  });

  test("-d, exec (status, -u, -w), -t exec, pause/unpause, stop (SIGTERM reaches the command), logs, rm", () => {
    const name = `oci-test-d-${process.pid}`;
    const started = podman(["run", "-d", "--name", name, "--network", "none", "--cgroup-parent", cgroupParent, IMAGE,
      "sh", "-c", "echo started; trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.1; done"]);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    // The container's init is a child of conmon (its subreaper), not of any diyc process.
    const state = JSON.parse(execFileSync(DIYC_OCI, ["state", id], { encoding: "utf8" }));
    expect(state.status).toBe("running");
    const parent = execFileSync("ps", ["-o", "comm=", "-p", execFileSync("ps", ["-o", "ppid=", "-p", String(state.pid)], { encoding: "utf8" }).trim()], { encoding: "utf8" }).trim();
    expect(parent).toBe("conmon");

    const exec = podman(["exec", name, "sh", "-c", "echo from exec; exit 4"]);
    expect(exec.stdout).toBe("from exec\n");
    expect(exec.code).toBe(4);
    const asUser = podman(["exec", "-u", "1000", "-w", "/tmp", name, "sh", "-c", "id -u; pwd"]);
    expect(asUser.stdout).toBe("1000\n/tmp\n");
    const tty = podman(["exec", "-t", name, "sh", "-c", "tty"]);
    expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect(tty.code).toBe(0);

    expect(podman(["pause", name]).code).toBe(0);
    expect(podman(["inspect", "--format", "{{.State.Status}}", name]).stdout.trim()).toBe("paused");
    expect(JSON.parse(execFileSync(DIYC_OCI, ["state", id], { encoding: "utf8" })).status).toBe("paused");
    expect(podman(["unpause", name]).code).toBe(0);
    expect(podman(["inspect", "--format", "{{.State.Status}}", name]).stdout.trim()).toBe("running");

    expect(podman(["stop", "-t", "10", name]).code).toBe(0);
    expect(podman(["inspect", "--format", "{{.State.ExitCode}}", name]).stdout.trim()).toBe("7");
    expect(podman(["logs", name]).stdout).toBe("started\ngot TERM\n");
    expect(podman(["rm", name]).code).toBe(0);
    expect(existsSync(join(OCI_ROOT, id))).toBe(false);
  });

  test("-t: the command gets a terminal from the container's devpts", () => {
    const r = run(["-t"], ["sh", "-c", "tty"]);
    expect(r.stdout).toBe("/dev/pts/0\r\n");
    expect(r.code).toBe(0);
  });

  // On cgroup v1 (this machine): podman keeps the host's cgroup namespace there.
  const onV1 = existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  test.if(onV1)("-m 32m: the container's own cgroup is its /sys/fs/cgroup (podman keeps the host's cgroup namespace on v1)", () => {
    const r = run(["-m", "32m"], ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /sys/fs/cgroup/memory/x 2>&1 | grep -c Read-only"]);
    expect(r.stdout).toBe(`${32 * 1024 * 1024}\n1\n`);
  });

  test("-m 32m: a command that needs more is OOM-killed: 137", () => {
    const r = run(["-m", "32m"], ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]);
    expect(r.stdout).not.toContain("survived");
    expect(r.code).toBe(137);
  });

  test("--pids-limit: fork fails past the limit", () => {
    const r = run(["--pids-limit", "5"], ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait"]);
    expect(r.stderr + r.stdout).toContain("can't fork");
  });

  test("--cap-drop: the capability is gone from every set", () => {
    const all = run([], ["grep", "CapBnd", "/proc/self/status"]).stdout;
    const dropped = run(["--cap-drop", "net_raw"], ["grep", "CapBnd", "/proc/self/status"]).stdout;
    const mask = (line: string) => BigInt(`0x${line.split("\t")[1]!.trim()}`);
    const NET_RAW = 1n << 13n;
    expect(mask(all) & NET_RAW).toBe(NET_RAW);
    expect(mask(dropped) & NET_RAW).toBe(0n);
  });

  test("seccomp: podman's default profile is loaded; a profile of the test's own refuses mkdir", () => {
    expect(run([], ["grep", "^Seccomp:", "/proc/self/status"]).stdout).toBe("Seccomp:\t2\n");
    const profile = join(dir, "no-mkdir.json");
    writeFileSync(profile, JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
    }));
    const r = run(["--security-opt", `seccomp=${profile}`], ["sh", "-c", "mkdir /tmp/d 2>&1; echo $?"]);
    expect(r.stdout).toContain("Operation not permitted");
    expect(r.stdout.trim().endsWith("1")).toBe(true);
    expect(run(["--security-opt", "seccomp=unconfined"], ["sh", "-c", "mkdir /tmp/d && echo made"]).stdout).toBe("made\n");
  });

  test("--privileged (the host's devices, every capability the host has, no seccomp), --device, -i, --init", () => {
    const privileged = run(["--privileged"], ["sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /dev | wc -l; readlink /dev/ptmx"]);
    expect(privileged.stderr).toBe("");
    const [capEff, seccomp, devices, ptmx] = privileged.stdout.trim().split("\n");
    const hostCaps = readFileSync("/proc/self/status", "utf8").match(/^CapEff:\t(\w+)$/m)![1];
    expect(capEff).toBe(`CapEff:\t${hostCaps}`);
    expect(seccomp).toBe("Seccomp:\t0");
    expect(Number(devices)).toBeGreaterThan(20);
    expect(ptmx).toBe("pts/ptmx");
    const device = run(["--device", "/dev/loop-control"], ["sh", "-c", "head -c 0 < /dev/loop-control && echo opened"]);
    expect(device.stdout).toBe("opened\n");
    const stdin = Bun.spawnSync(["podman", "--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--storage-driver", "overlay",
      "--runtime", DIYC_OCI, "--cgroup-manager", "cgroupfs", "run", "--rm", "-i", "--network", "none", "--cgroup-parent", cgroupParent, IMAGE, "cat"], {
      stdin: Buffer.from("through stdin\n"), env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CONTAINERS_CONF: join(dir, "containers.conf"), HOME: dir },
    });
    expect(stdin.stdout.toString()).toBe("through stdin\n");
    expect(run(["--init"], ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]).stdout).toStartWith("/run/podman-init -- ");
  });

  test("rm -f of a running container", () => {
    const name = `oci-test-rm-${process.pid}`;
    const started = podman(["run", "-d", "--name", name, "--network", "none", "--cgroup-parent", cgroupParent, IMAGE, "sleep", "1000"]);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(JSON.parse(execFileSync(DIYC_OCI, ["state", id], { encoding: "utf8" })).status).toBe("running");
    expect(podman(["rm", "-f", "-t", "0", name]).code).toBe(0);
    expect(existsSync(join(OCI_ROOT, id))).toBe(false);
    expect(podman(["ps", "-a", "-q", "--filter", `name=${name}`]).stdout).toBe("");
  });
});
