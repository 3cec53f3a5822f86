// containerd 1.6 runs its tasks with bin/diyc-oci, through its runc shim
// (containerd-shim-runc-v2, which is the monitor): `ctr run --runc-binary`.
// The test starts its own containerd (private socket, root and state dir,
// the CRI plugin off), builds a busybox image with umoci and loads it with
// `ctr images import`, works in a namespace of its own, and stops containerd
// by its pid. The shim gives diyc-oci --root /run/containerd/runc/NAMESPACE.
// Afterwards: no task, shim, mount, cgroup or state of the test is left.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRoot } from "../helpers/diyc";
import {
  DIYC_OCI, makeBusyboxRootfs, mountsMentioning, ociStateDirs, processesInCgroupsMentioning, removeCgroupTree, topCgroups,
} from "../helpers/oci";

const hasContainerd = ["/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/umoci", "/usr/bin/script"].every(existsSync);
const describeContainerd = isRoot && hasContainerd ? describe : describe.skip;

const IMAGE = "docker.io/library/oci-test-busybox:latest";
let dir: string;
let namespace: string;
let containerd: ReturnType<typeof Bun.spawn> | undefined;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const socket = () => join(dir, "containerd.sock");
const ctrArgs = (args: string[]) => ["ctr", "--address", socket(), "--namespace", namespace, ...args];

function ctr(args: string[], timeoutMs = 30_000): Result {
  const child = Bun.spawnSync(ctrArgs(args), { stdin: "ignore", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, timeout: timeoutMs });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

/** ctr -t wants a terminal on its stdin: script(1) gives it one. */
function ctrWithTerminal(args: string[]): Result {
  const command = ctrArgs(args).map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = Bun.spawnSync(["script", "-qec", command, "/dev/null"], { stdin: "ignore", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, timeout: 30_000 });
  return { code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

const RUNTIME = ["--runc-binary", DIYC_OCI];

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await Bun.sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  if (!isRoot || !hasContainerd) return;
  dir = mkdtempSync("/tmp/oci-test-ctrd-");
  namespace = dir.split("/").pop()!.replace(/[^a-zA-Z0-9-]/g, "-").toLowerCase();
  writeFileSync(join(dir, "config.toml"), `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${socket()}"
[ttrpc]
  address = "${socket()}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
`);
  containerd = Bun.spawn(["containerd", "--config", join(dir, "config.toml")], { stdout: "ignore", stderr: Bun.file(join(dir, "containerd.log")), stdin: "ignore" });
  await waitFor(() => existsSync(socket()) && ctr(["version"]).code === 0, "containerd to listen");

  // The image: umoci makes an OCI layout with one layer (busybox), ctr imports its tarball.
  const layout = join(dir, "oci");
  const run = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { cwd: dir, stdio: "pipe" });
  run(["umoci", "init", "--layout", layout]);
  run(["umoci", "new", "--image", `${layout}:latest`]);
  run(["umoci", "unpack", "--image", `${layout}:latest`, join(dir, "bundle")]);
  makeBusyboxRootfs(join(dir, "bundle/rootfs"));
  run(["umoci", "repack", "--image", `${layout}:latest`, join(dir, "bundle")]);
  run(["umoci", "config", "--image", `${layout}:latest`, "--config.cmd", "sh", "--config.env", "PATH=/bin"]);
  run(["tar", "-C", layout, "-cf", join(dir, "image.tar"), "."]);
  const imported = ctr(["images", "import", "--base-name", "docker.io/library/oci-test-busybox", join(dir, "image.tar")]);
  expect(imported.code).toBe(0);
});

afterAll(async () => {
  if (!isRoot || !hasContainerd) return;
  for (const id of ctr(["tasks", "list", "--quiet"]).stdout.split("\n").filter(Boolean)) ctr(["tasks", "kill", "--all", "--signal", "SIGKILL", id]);
  for (const id of ctr(["containers", "list", "--quiet"]).stdout.split("\n").filter(Boolean)) {
    ctr(["tasks", "delete", "--force", id]);
    ctr(["containers", "delete", id]);
  }
  ctr(["images", "remove", IMAGE]);
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return "";
    }
  };
  const shims = () => (Bun.spawnSync(["pgrep", "-f", `containerd-shim-runc-v2 .*${socket()}`]).stdout.toString().split("\n").filter(Boolean).map(Number))
    .filter((pid) => cmdline(pid).includes(socket()));
  await waitFor(() => shims().length === 0, "the shims to exit");
  // Stopped by its pid, as every server a test starts.
  containerd?.kill("SIGTERM");
  await containerd?.exited;
  for (const line of mountsMentioning(dir).reverse()) Bun.spawnSync(["umount", "-l", line.split(" ")[4]!]);
  for (const cgroup of topCgroups(namespace)) removeCgroupTree(cgroup);

  expect(mountsMentioning(dir)).toEqual([]);
  expect(topCgroups(namespace)).toEqual([]);
  expect(processesInCgroupsMentioning(`/${namespace}/`)).toEqual([]);
  expect(ociStateDirs("oci-test-", `/run/containerd/runc/${namespace}`)).toEqual([]);
  rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describeContainerd("ctr run --runc-binary bin/diyc-oci", () => {
  test("exit status, output, env and cwd", () => {
    const r = ctr(["run", "--rm", ...RUNTIME, "--env", "GREETING=hello", "--cwd", "/tmp", IMAGE, "oci-test-basic",
      "sh", "-c", "echo $GREETING; pwd; echo $$; exit 5"]);
    expect(r.stdout).toBe("hello\n/tmp\n1\n");
    expect(r.code).toBe(5);
  });

  // (ctr 1.6 drops --runc-binary with --uidmap, so user namespaces are tested in oci-runtime.test.ts.)
  test("--seccomp (containerd's default profile), --privileged, --net-host, --mount", () => {
    const seccomp = ctr(["run", "--rm", ...RUNTIME, "--seccomp", IMAGE, "oci-test-seccomp", "grep", "^Seccomp:", "/proc/self/status"]);
    expect(seccomp.stdout).toBe("Seccomp:\t2\n");
    const privileged = ctr(["run", "--rm", ...RUNTIME, "--privileged", IMAGE, "oci-test-priv", "sh", "-c", "grep ^CapEff: /proc/self/status; ls /dev | wc -l"]);
    const hostCaps = readFileSync("/proc/self/status", "utf8").match(/^CapEff:\t(\w+)$/m)![1];
    expect(privileged.stdout.split("\n")[0]).toBe(`CapEff:\t${hostCaps}`);
    expect(Number(privileged.stdout.split("\n")[1])).toBeGreaterThan(20);
    const hostNet = ctr(["run", "--rm", ...RUNTIME, "--net-host", IMAGE, "oci-test-nethost", "readlink", "/proc/self/ns/net"]);
    expect(hostNet.stdout.trim()).toBe(readlinkSync("/proc/self/ns/net"));
    const mount = ctr(["run", "--rm", ...RUNTIME, "--mount", `type=bind,src=${dir},dst=/host,options=rbind:ro`, IMAGE, "oci-test-mount", "ls", "/host/config.toml"]);
    expect(mount.stdout).toBe("/host/config.toml\n");
  });

  test("a memory limit the command exceeds: OOM-killed, 137", () => {
    const r = ctr(["run", "--rm", ...RUNTIME, "--memory-limit", String(32 * 1024 * 1024), IMAGE, "oci-test-oom",
      "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]);
    expect(r.stdout).not.toContain("survived");
    expect(r.code).toBe(137);
  });

  test("-t: a terminal from the container's devpts, through the shim's console socket", () => {
    const r = ctrWithTerminal(["run", "--rm", "-t", ...RUNTIME, IMAGE, "oci-test-tty", "tty"]);
    expect(r.stdout).toContain("/dev/pts/0");
    expect(r.code).toBe(0);
  });

  test("-d, task exec (status, user, cwd, -t), task ps, task kill, kill --all, task delete", async () => {
    const id = "oci-test-detached";
    const started = ctr(["run", "-d", ...RUNTIME, IMAGE, id, "sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.1; done"]);
    expect(started.code).toBe(0);
    const tasks = ctr(["tasks", "list"]).stdout;
    expect(tasks).toMatch(new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
    const initPid = Number(new RegExp(`${id}\\s+(\\d+)`).exec(tasks)![1]);
    // The init's parent is the shim (its subreaper), not a diyc process.
    expect(execFileSync("ps", ["-o", "comm=", "-p", execFileSync("ps", ["-o", "ppid=", "-p", String(initPid)], { encoding: "utf8" }).trim()], { encoding: "utf8" }).trim())
      .toBe("containerd-shim");

    const exec = ctr(["tasks", "exec", "--exec-id", "e1", id, "sh", "-c", "echo from exec; exit 6"]);
    expect(exec.stdout).toBe("from exec\n");
    expect(exec.code).toBe(6);
    const asUser = ctr(["tasks", "exec", "--exec-id", "e2", "--user", "1000", "--cwd", "/tmp", id, "sh", "-c", "id -u; pwd"]);
    expect(asUser.stdout).toBe("1000\n/tmp\n");
    const tty = ctrWithTerminal(["tasks", "exec", "-t", "--exec-id", "e3", id, "tty"]);
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);

    // A long exec: task ps lists it beside the init.
    const sleeper = Bun.spawn(ctrArgs(["tasks", "exec", "--exec-id", "e4", id, "sleep", "1000"]), { stdout: "ignore", stderr: "ignore" });
    await waitFor(() => ctr(["tasks", "ps", id]).stdout.includes("ExecID:e4"), "the exec to show in task ps");
    const ps = ctr(["tasks", "ps", id]).stdout;
    expect(ps).toContain(String(initPid));

    // kill --all reaches the exec'd process too.
    expect(ctr(["tasks", "kill", "--all", "--signal", "SIGKILL", id]).code).toBe(0);
    expect(await sleeper.exited).toBe(137);
    await waitFor(() => /STOPPED/.test(ctr(["tasks", "list"]).stdout), "the task to stop");
    expect(ctr(["tasks", "delete", id]).code).toBe(0);
    expect(ctr(["containers", "delete", id]).code).toBe(0);
    expect(ociStateDirs(id, `/run/containerd/runc/${namespace}`)).toEqual([]);
  });

  test("task kill sends SIGTERM to the init; its exit status comes back", async () => {
    const id = "oci-test-term";
    expect(ctr(["run", "-d", ...RUNTIME, IMAGE, id, "sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.1; done"]).code).toBe(0);
    expect(ctr(["tasks", "kill", id]).code).toBe(0);
    await waitFor(() => /STOPPED/.test(ctr(["tasks", "list"]).stdout), "the task to stop");
    const deleted = ctr(["tasks", "delete", id]);
    expect(deleted.stdout + deleted.stderr).toContain("9");
    expect(ctr(["containers", "delete", id]).code).toBe(0);
  });
});
