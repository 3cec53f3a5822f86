// bin/diyc-oci driven directly, as a runtime-spec conformance suite would:
// the lifecycle create -> start -> kill -> delete with the state at each
// step, the spec's words where runc differs, errors on stderr and in --log
// as JSON, hooks with the state on stdin, and the parts of config.json the
// real clients do not send. A private --root, bundles and a cgroup parent of
// the test's own; afterwards nothing is left.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { helperProcesses, isRoot } from "../helpers/diyc";
import { asUser, NOBODY } from "../helpers/rootless";
import { DIYC_OCI, makeBusyboxRootfs, mountsMentioning, processesInCgroupsMentioning, removeCgroupTree, topCgroups } from "../helpers/oci";

const describeRoot = isRoot ? describe : describe.skip;

let dir: string;
let root: string;
let rootfs: string;
let cgroupParent: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let outputs = 0;

/**
 * Runs diyc-oci. A container it leaves running keeps the stdio it was given
 * (the caller's, as runc's do): pipes would stay open, so its output goes to
 * files of the test's own, read back when diyc-oci returns.
 */
function oci(args: string[], options: { stdin?: string } = {}): Result {
  const out = join(dir, `out-${++outputs}`);
  const err = join(dir, `err-${outputs}`);
  const child = Bun.spawnSync([DIYC_OCI, "--root", root, ...args], {
    stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
    stdout: Bun.file(out),
    stderr: Bun.file(err),
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    timeout: 30_000,
  });
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
  const result = { code: child.exitCode ?? -1, stdout: read(out), stderr: read(err) };
  rmSync(out, { force: true });
  rmSync(err, { force: true });
  return result;
}

const state = (id: string) => JSON.parse(oci(["state", id]).stdout);

/** A bundle whose config.json is diyc-oci spec's default, changed by `edit`. */
function bundle(id: string, edit: (config: any) => void): string {
  const path = join(dir, `bundle-${id}`);
  mkdirSync(path);
  expect(oci(["spec", "--bundle", path]).code).toBe(0);
  const config = JSON.parse(readFileSync(join(path, "config.json"), "utf8"));
  config.root.path = rootfs;
  config.process.terminal = false;
  config.linux.cgroupsPath = `${cgroupParent}/${id}`;
  edit(config);
  writeFileSync(join(path, "config.json"), JSON.stringify(config));
  return path;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await Bun.sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(() => {
  if (!isRoot) return;
  dir = mkdtempSync("/tmp/oci-test-runtime-");
  root = join(dir, "state");
  rootfs = join(dir, "rootfs");
  cgroupParent = `/${dir.split("/").pop()}`;
  makeBusyboxRootfs(rootfs);
  // A container with a user namespace reaches its root as an unprivileged host uid.
  chmodSync(dir, 0o755);
});

afterAll(() => {
  if (!isRoot) return;
  for (const id of oci(["list", "-q"]).stdout.split("\n").filter(Boolean)) oci(["delete", "--force", id]);
  expect(oci(["list", "-q"]).stdout).toBe("");
  const leftover = topCgroups(cgroupParent.slice(1));
  for (const cgroup of leftover) removeCgroupTree(cgroup);
  expect(mountsMentioning(dir)).toEqual([]);
  expect(processesInCgroupsMentioning(cgroupParent)).toEqual([]);
  expect(topCgroups(cgroupParent.slice(1))).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

describeRoot("the lifecycle: create -> start -> kill -> delete", () => {
  test("each step, the state it leaves, and the spec's refusals", async () => {
    const id = "oci-test-life";
    const path = bundle(id, (c) => {
      c.process.args = ["sh", "-c", "trap 'exit 3' TERM; echo started > /tmp/started; while true; do sleep 0.1; done"];
      c.root.readonly = false;
      c.annotations = { "org.example.key": "value" };
    });
    const pidFile = join(dir, "life.pid");
    const created = oci(["create", "--bundle", path, "--pid-file", pidFile, id]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    let s = state(id);
    expect(s).toMatchObject({ ociVersion: "1.0.2", id, status: "created", pid, bundle: path, annotations: { "org.example.key": "value" } });
    // Created: set up and parked, the user's process has not run; no diyc process is its parent.
    expect(existsSync(join(rootfs, "tmp/started"))).toBe(false);
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync("/proc/self/ns/pid"));
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).not.toMatch(/PPid:\s+${process.pid}\n/);
    expect(oci(["list"]).stdout).toMatch(new RegExp(`${id}\\s+${pid}\\s+created`));

    expect(oci(["create", "--bundle", path, id]).stderr).toContain("already exists");
    const refused = oci(["delete", id]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toBe(`diyc-oci: cannot delete container ${id} that is not stopped: it is created (use --force)\n`);

    expect(oci(["start", id]).code).toBe(0);
    await waitFor(() => existsSync(join(rootfs, "tmp/started")), "the process to run");
    expect(state(id).status).toBe("running");
    expect(oci(["start", id]).stderr).toContain("it is running, not created");
    expect(JSON.parse(oci(["ps", "--format", "json", id]).stdout)).toContain(pid);

    expect(oci(["pause", id]).code).toBe(0);
    expect(state(id).status).toBe("paused");
    expect(oci(["resume", id]).code).toBe(0);
    expect(state(id).status).toBe("running");

    expect(oci(["kill", id, "SIGTERM"]).code).toBe(0);
    await waitFor(() => state(id).status === "stopped", "the process to stop");
    s = state(id);
    expect(s.pid).toBe(0);
    expect(oci(["kill", id, "TERM"]).stderr).toContain("is not running");
    expect(oci(["delete", id]).code).toBe(0);
    expect(oci(["state", id]).stderr).toBe(`diyc-oci: container ${id} does not exist\n`);
    expect(oci(["delete", id]).code).toBe(125);
    expect(oci(["delete", "--force", id]).code).toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
    rmSync(join(rootfs, "tmp/started"));
    // What a create killed half-way leaves (a directory, no state): delete --force removes it.
    mkdirSync(join(root, "oci-test-half"));
    expect(oci(["delete", "--force", "oci-test-half"]).code).toBe(0);
    expect(existsSync(join(root, "oci-test-half"))).toBe(false);
  });

  test("delete of a stopped container without a pid namespace ends what its init left behind", async () => {
    const id = "oci-test-leftover";
    expect(oci(["run", "-d", "--bundle", bundle(id, (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((ns: { type: string }) => ns.type !== "pid");
      c.process.args = ["sh", "-c", "sleep 1000 & exit 0"];
    }), id]).code).toBe(0);
    await waitFor(() => state(id).status === "stopped", "the init to exit");
    const left = JSON.parse(oci(["ps", "--format", "json", id]).stdout) as number[];
    expect(left.length).toBe(1);
    expect(oci(["delete", id]).code).toBe(0);
    expect(processesInCgroupsMentioning(`${cgroupParent}/${id}`)).toEqual([]);
    expect(existsSync(`/proc/${left[0]}`) && !readFileSync(`/proc/${left[0]}/stat`, "utf8").includes(") Z")).toBe(false);
  });

  test("delete --force of a running container kills it and removes its cgroup", () => {
    const id = "oci-test-force";
    expect(oci(["run", "-d", "--bundle", bundle(id, (c) => (c.process.args = ["sleep", "1000"])), id]).code).toBe(0);
    const pid = state(id).pid;
    expect(processesInCgroupsMentioning(`${cgroupParent}/${id}`)).toContain(pid);
    expect(oci(["delete", "--force", id]).code).toBe(0);
    expect(processesInCgroupsMentioning(`${cgroupParent}/${id}`)).toEqual([]);
    expect(topCgroups(`${cgroupParent.slice(1)}/${id}`)).toEqual([]);
  });

  test("run in the foreground returns the exit status; exec runs beside it", async () => {
    const id = "oci-test-fg";
    const r = oci(["run", "--bundle", bundle(id, (c) => (c.process.args = ["sh", "-c", "echo out; echo err >&2; exit 42"])), id]);
    expect(r).toEqual({ code: 42, stdout: "out\n", stderr: "err\n" });
    expect(existsSync(join(root, id))).toBe(false);

    const id2 = "oci-test-exec";
    expect(oci(["run", "-d", "--bundle", bundle(id2, (c) => (c.process.args = ["sleep", "1000"])), id2]).code).toBe(0);
    const exec = oci(["exec", "--env", "X=1", "--cwd", "/tmp", "--user", "1000:1000", id2, "sh", "-c", "echo $X $(pwd) $(id -u) $(id -g); exit 7"]);
    expect(exec).toEqual({ code: 7, stdout: "1 /tmp 1000 1000\n", stderr: "" });
    const pidFile = join(dir, "exec.pid");
    const detached = oci(["exec", "--detach", "--pid-file", pidFile, id2, "sleep", "1000"]);
    expect(detached.code).toBe(0);
    const execPid = Number(readFileSync(pidFile, "utf8"));
    expect(JSON.parse(oci(["ps", "--format", "json", id2]).stdout)).toContain(execPid);
    const processFile = join(dir, "process.json");
    writeFileSync(processFile, JSON.stringify({ args: ["sh", "-c", "exit 2"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } }));
    expect(oci(["exec", "--process", processFile, id2]).code).toBe(2);
    const missing = oci(["exec", id2, "oci-test-no-such"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("executable file not found");
    expect(oci(["kill", "--all", id2, "KILL"]).code).toBe(0);
    await waitFor(() => state(id2).status === "stopped", "the container to stop");
    expect(oci(["delete", id2]).code).toBe(0);
  });
});

describeRoot("errors: one line on stderr, a JSON line in --log", () => {
  test("an invalid value names its field; nothing is left", () => {
    const id = "oci-test-bad";
    const path = bundle(id, (c) => (c.process.user.uid = "root"));
    const log = join(dir, "log.json");
    const child = Bun.spawnSync([DIYC_OCI, "--root", root, "--log", log, "--log-format=json", "create", "--bundle", path, id], { stdin: "ignore" });
    expect(child.exitCode).toBe(125);
    expect(child.stderr.toString()).toBe("diyc-oci: config.json: process.user.uid: expected an integer\n");
    const entry = JSON.parse(readFileSync(log, "utf8").trim().split("\n").at(-1)!);
    expect(entry).toMatchObject({ level: "error", msg: "config.json: process.user.uid: expected an integer" });
    expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a failure after the init is parked (an unwritable --pid-file) ends it and removes everything", () => {
    const id = "oci-test-late";
    const r = oci(["create", "--pid-file", join(dir, "no-such-dir/pid"), "--bundle", bundle(id, (c) => (c.process.args = ["sleep", "1000"])), id]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("no-such-dir/pid");
    expect(existsSync(join(root, id))).toBe(false);
    expect(processesInCgroupsMentioning(`${cgroupParent}/${id}`)).toEqual([]);
    expect(topCgroups(`${cgroupParent.slice(1)}/${id}`)).toEqual([]);
  });

  test("a missing executable is found at create, with the words podman maps to 127", () => {
    const id = "oci-test-noexec";
    const r = oci(["create", "--bundle", bundle(id, (c) => (c.process.args = ["oci-test-no-such"])), id]);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('diyc-oci: exec "oci-test-no-such": executable file not found in $PATH\n');
    expect(existsSync(join(root, id))).toBe(false);
    expect(topCgroups(`${cgroupParent.slice(1)}/${id}`)).toEqual([]);
  });

  test("refused clearly: --systemd-cgroup, systemd cgroupsPath, a label without SELinux, unknown namespace", () => {
    expect(oci(["--systemd-cgroup", "list"]).stderr).toContain("--systemd-cgroup is not supported");
    const slice = oci(["create", "--bundle", bundle("oci-test-slice", (c) => (c.linux.cgroupsPath = "system.slice:diyc:x")), "oci-test-slice"]);
    expect(slice.stderr).toContain("systemd's slice:prefix:name form");
    const label = oci(["create", "--bundle", bundle("oci-test-label", (c) => (c.process.selinuxLabel = "system_u:system_r:container_t:s0")), "oci-test-label"]);
    expect(label.stderr).toContain("process.selinuxLabel");
    const ns = oci(["create", "--bundle", bundle("oci-test-ns", (c) => c.linux.namespaces.push({ type: "nope" })), "oci-test-ns"]);
    expect(ns.stderr).toContain('linux.namespaces[6].type: unknown namespace "nope"');
    expect(oci(["list", "-q"]).stdout).toBe("");
  });
});

describeRoot("config.json, beyond what podman and containerd send", () => {
  test("hostname, domainname, user, umask, additionalGids, ambient capabilities, rlimits, sysctl, read-only root, masked paths", () => {
    const id = "oci-test-config";
    const r = oci(["run", "--bundle", bundle(id, (c) => {
      c.hostname = "oci-host";
      c.domainname = "oci-domain";
      c.process.user = { uid: 1000, gid: 1000, umask: 0o027, additionalGids: [5, 7] };
      c.process.capabilities = { bounding: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"], effective: ["CAP_NET_BIND_SERVICE"], permitted: ["CAP_NET_BIND_SERVICE"], inheritable: ["CAP_NET_BIND_SERVICE"], ambient: ["CAP_NET_BIND_SERVICE"] };
      c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 321, hard: 654 }];
      c.linux.sysctl = { "kernel.shmmni": "1234" };
      c.linux.maskedPaths.push("/etc/passwd");
      c.process.args = ["sh", "-c", [
        "hostname", "cat /proc/sys/kernel/domainname", "id -u; id -G", "umask",
        "grep -E '^Cap(Eff|Amb|Bnd)' /proc/self/status", "ulimit -n; ulimit -Hn", "cat /proc/sys/kernel/shmmni",
        "touch /x 2>&1 | grep -c Read-only", "wc -c < /etc/passwd",
      ].join("; ")];
    }), id]);
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual([
      "oci-host", "oci-domain", "1000", "1000 5 7", "0027",
      "CapEff:\t0000000000000400", "CapBnd:\t0000000000000401", "CapAmb:\t0000000000000400",
      "321", "654", "1234", "1", "0", "",
    ]);
  });

  test("mounts: a read-only nosuid bind, a tmpfs with a size, propagation options accepted", () => {
    const id = "oci-test-mounts";
    const shared = join(dir, "shared");
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, "file"), "from the host\n");
    const r = oci(["run", "--bundle", bundle(id, (c) => {
      c.mounts.push(
        { destination: "/data", type: "bind", source: shared, options: ["rbind", "ro", "nosuid", "nodev", "rslave"] },
        { destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "size=1m", "mode=1777"] },
      );
      c.linux.rootfsPropagation = "rslave";
      c.process.args = ["sh", "-c", "cat /data/file; touch /data/x 2>&1 | grep -c Read-only; grep -E ' /(data|scratch) ' /proc/self/mountinfo | cut -d' ' -f5,6,7; df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2"];
    }), id]);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("from the host");
    expect(lines[1]).toBe("1");
    const data = lines.find((l) => l.startsWith("/data "))!;
    // Options only: diyc makes the container's tree private before anything
    // else, so a slave mount has no master to follow here.
    expect(data).toMatch(/^\/data ro,nosuid,nodev/);
    expect(lines.find((l) => l.startsWith("/scratch "))).toMatch(/^\/scratch rw,nosuid/);
    expect(lines.at(-1)).toBe("1024");
  });

  test("rootfsPropagation rslave: a mount the host makes later reaches the container's bind of it", async () => {
    const id = "oci-test-slave";
    const source = join(dir, "propagated");
    mkdirSync(join(source, "sub"), { recursive: true });
    // The source must be a shared mount on the host for anything to propagate.
    expect(Bun.spawnSync(["mount", "--bind", "--make-shared", source, source]).exitCode).toBe(0);
    try {
      expect(Bun.spawnSync(["mount", "--make-shared", source]).exitCode).toBe(0);
      expect(oci(["run", "-d", "--bundle", bundle(id, (c) => {
        c.linux.rootfsPropagation = "rslave";
        c.mounts.push({ destination: "/data", type: "bind", source, options: ["rbind", "rslave"] });
        c.process.args = ["sleep", "1000"];
      }), id]).code).toBe(0);
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "oci-test-late", join(source, "sub")]).exitCode).toBe(0);
      const inside = oci(["exec", id, "sh", "-c", "grep -c ' /data/sub ' /proc/self/mountinfo"]);
      expect(inside.stdout.trim()).toBe("1");
      expect(oci(["delete", "--force", id]).code).toBe(0);
    } finally {
      Bun.spawnSync(["umount", "-R", source]);
    }
  });

  test("linux.namespaces path: the second container joins the first one's network namespace (a pod)", async () => {
    const first = "oci-test-pod";
    expect(oci(["run", "-d", "--bundle", bundle(first, (c) => (c.process.args = ["sleep", "1000"])), first]).code).toBe(0);
    const pid = state(first).pid;
    const netns = `/proc/${pid}/ns/net`;
    const second = "oci-test-member";
    const r = oci(["run", "--bundle", bundle(second, (c) => {
      c.linux.namespaces = c.linux.namespaces.map((ns: { type: string }) => (ns.type === "network" ? { type: "network", path: netns } : ns));
      c.process.args = ["readlink", "/proc/self/ns/net"];
    }), second]);
    expect(r.stdout.trim()).toBe(readlinkSync(netns));
    expect(r.stdout.trim()).not.toBe(readlinkSync("/proc/self/ns/net"));
    expect(oci(["delete", "--force", first]).code).toBe(0);
  });

  test("a user namespace: uid/gid maps, root inside is not root outside; exec joins it", async () => {
    const id = "oci-test-userns";
    const maps = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const path = bundle(id, (c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = maps;
      c.linux.gidMappings = maps;
      c.process.args = ["sleep", "1000"];
    });
    expect(oci(["run", "-d", "--bundle", path, id]).code).toBe(0);
    const pid = state(id).pid;
    expect(readFileSync(`/proc/${pid}/uid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\t200000\t/m);
    const exec = oci(["exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '; readlink /proc/self/ns/user"]);
    expect(exec.stdout.split("\n").slice(0, 3)).toEqual(["0", " 0 200000 65536", readlinkSync(`/proc/${pid}/ns/user`)]);
    expect(oci(["delete", "--force", id]).code).toBe(0);
  });

  test("an idmapped bind: the host's root-owned files are root's in the container's user namespace", () => {
    const maps = [{ containerID: 0, hostID: 200000, size: 65536 }];
    const data = join(dir, "idmapped");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "file"), "x");
    // The mount point: the container's root cannot create it in a root-owned rootfs.
    mkdirSync(join(rootfs, "data"), { recursive: true });
    const owner = (id: string, options: string[]) => oci(["run", "--bundle", bundle(id, (c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = maps;
      c.linux.gidMappings = maps;
      c.mounts.push({ destination: "/data", type: "bind", source: data, options });
      c.process.args = ["sh", "-c", "stat -c %u:%g /data/file; touch /data/new && stat -c %u /data/new"];
    }), id]);
    const plain = owner("oci-test-noidmap", ["rbind", "ro"]);
    expect(plain.stdout.split("\n")[0]).toBe("65534:65534"); // unmapped: the overflow ids
    const idmapped = owner("oci-test-idmap", ["rbind", "idmap"]);
    expect(idmapped.stderr).toBe("");
    expect(idmapped.stdout).toBe("0:0\n0\n");
    expect(statSync(join(data, "new")).uid).toBe(0); // written as the container's root: the host's root on disk
  });

  test("hooks: all six get the state on stdin, where the spec runs them; a failing or slow one fails create", async () => {
    const id = "oci-test-hooks";
    const record = join(dir, "hooks.log");
    const hook = join(dir, "hook.sh");
    writeFileSync(hook, `#!/bin/sh\n{ echo "$1"; cat; echo; } >> ${record}\n`);
    chmodSync(hook, 0o755);
    const kinds = ["prestart", "createRuntime", "poststart", "poststop"];
    const path = bundle(id, (c) => {
      c.process.args = ["true"];
      c.hooks = Object.fromEntries(kinds.map((k) => [k, [{ path: hook, args: ["hook", k], timeout: 5 }]]));
    });
    expect(oci(["run", "--bundle", path, id]).code).toBe(0);
    const lines = readFileSync(record, "utf8").trim().split("\n");
    expect(lines.filter((_, i) => i % 2 === 0)).toEqual(kinds);
    const states = lines.filter((_, i) => i % 2 === 1).map((l) => JSON.parse(l));
    expect(states.map((s) => s.status)).toEqual(["creating", "creating", "running", "stopped"]);
    for (const s of states) expect(s).toMatchObject({ id, bundle: path });

    // createContainer (in the container's namespaces, before pivot_root: a host path) and
    // startContainer (after start, before the command: a path in the container), run by the init.
    const inner = "oci-test-innerhooks";
    const records = join(dir, "records");
    mkdirSync(records, { recursive: true });
    writeFileSync(join(rootfs, "hook-in-container.sh"), "#!/bin/sh\n{ echo \"$1\"; cat; echo; readlink /proc/1/ns/mnt; } >> /records/start.log\n");
    chmodSync(join(rootfs, "hook-in-container.sh"), 0o755);
    writeFileSync(join(dir, "hook-create.sh"), `#!/bin/sh\n{ echo "$1"; cat; echo; readlink /proc/self/ns/mnt; } >> ${records}/create.log\n`);
    chmodSync(join(dir, "hook-create.sh"), 0o755);
    const innerPath = bundle(inner, (c) => {
      c.process.args = ["sh", "-c", "cat /records/start.log | head -1"];
      c.mounts.push({ destination: "/records", type: "bind", source: records, options: ["rbind", "rw"] });
      c.hooks = {
        createContainer: [{ path: join(dir, "hook-create.sh"), args: ["hook-create.sh", "createContainer"] }],
        startContainer: [{ path: "/hook-in-container.sh", args: ["hook-in-container.sh", "startContainer"], timeout: 5 }],
      };
    });
    expect(oci(["create", "--bundle", innerPath, inner]).code).toBe(0);
    const innerPid = state(inner).pid;
    const created = readFileSync(join(records, "create.log"), "utf8").split("\n");
    expect(created[0]).toBe("createContainer");
    expect(JSON.parse(created[1]!)).toMatchObject({ id: inner, pid: innerPid });
    expect(created[2]).toBe(readlinkSync(`/proc/${innerPid}/ns/mnt`)); // in the container's mount namespace
    expect(existsSync(join(records, "start.log"))).toBe(false);
    expect(oci(["start", inner]).code).toBe(0);
    await waitFor(() => state(inner).status === "stopped", "the command to end");
    const started = readFileSync(join(records, "start.log"), "utf8").split("\n");
    expect(started[0]).toBe("startContainer");
    expect(JSON.parse(started[1]!)).toMatchObject({ id: inner, status: "created" });
    expect(oci(["delete", inner]).code).toBe(0);
    rmSync(join(rootfs, "hook-in-container.sh"));
    const slow = oci(["create", "--bundle", bundle("oci-test-slowhook", (c) => (c.hooks = { createContainer: [{ path: "/bin/sleep", args: ["sleep", "5"], timeout: 1 }] })), "oci-test-slowhook"]);
    expect(slow.stderr).toBe("diyc-oci: createContainer hook /bin/sleep timed out after 1 s\n");
    // A hook that cannot be run at all says why (its execve's errno), not just that it failed.
    const missing = oci(["create", "--bundle", bundle("oci-test-nohook", (c) => (c.hooks = { createContainer: [{ path: "/no/such/hook" }] })), "oci-test-nohook"]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^diyc-oci: createContainer hook \/no\/such\/hook.*: no such file or directory \(ENOENT\)\n$/);
    expect(existsSync(join(root, "oci-test-nohook"))).toBe(false);

    const failing = "oci-test-hookfail";
    const r = oci(["create", "--bundle", bundle(failing, (c) => (c.hooks = { prestart: [{ path: "/bin/false" }] })), failing]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("prestart hook /bin/false exited with status 1");
    expect(existsSync(join(root, failing))).toBe(false);
  });

  test("linux.devices and linux.resources.devices: a device node, usable only where the config allows it", () => {
    const device = { path: "/dev/loop-control", type: "c", major: 10, minor: 237, fileMode: 0o600 };
    const open = "head -c 0 < /dev/loop-control 2>&1 && echo opened";
    const allowed = oci(["run", "--bundle", bundle("oci-test-dev-allow", (c) => {
      c.linux.devices = [device];
      c.linux.resources.devices = [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 237, access: "rw" }];
      c.process.args = ["sh", "-c", open];
    }), "oci-test-dev-allow"]);
    expect(allowed.stdout).toBe("opened\n");
    const denied = oci(["run", "--bundle", bundle("oci-test-dev-deny", (c) => {
      c.linux.devices = [device];
      c.process.args = ["sh", "-c", open];
    }), "oci-test-dev-deny"]);
    expect(denied.stdout + denied.stderr).toContain("Operation not permitted");
    expect(denied.stdout).not.toContain("opened");
  });

  test.if(existsSync("/sys/fs/cgroup/blkio"))("linux.resources.blockIO: throttles in a blkio cgroup of the container's own, removed with it; hugepageLimits need a hugetlb hierarchy", () => {
    const id = "oci-test-blkio";
    const [major, minor] = readdirSync("/sys/dev/block")[0]!.split(":").map(Number);
    expect(oci(["run", "-d", "--bundle", bundle(id, (c) => {
      c.process.args = ["sleep", "1000"];
      c.linux.resources.blockIO = { throttleReadBpsDevice: [{ major, minor, rate: 1048576 }] };
    }), id]).code).toBe(0);
    const blkio = `/sys/fs/cgroup/blkio${cgroupParent}/${id}`;
    expect(readFileSync(join(blkio, "blkio.throttle.read_bps_device"), "utf8").trim()).toBe(`${major}:${minor} 1048576`);
    expect(readFileSync(join(blkio, "cgroup.procs"), "utf8").trim()).toBe(String(state(id).pid));
    expect(oci(["delete", "--force", id]).code).toBe(0);
    expect(existsSync(blkio)).toBe(false);
    // Per-device weights need BFQ on the device: otherwise one line names the field or the file and errno.
    const weighted = oci(["run", "-d", "--bundle", bundle("oci-test-weight", (c) => {
      c.process.args = ["sleep", "1000"];
      c.linux.resources.blockIO = { weightDevice: [{ major, minor, weight: 500 }] };
    }), "oci-test-weight"]);
    if (weighted.code === 0) {
      const file = ["blkio.weight_device", "blkio.bfq.weight_device"].map((f) => `/sys/fs/cgroup/blkio${cgroupParent}/oci-test-weight/${f}`).find(existsSync)!;
      expect(readFileSync(file, "utf8")).toContain(`${major}:${minor} 500`);
      expect(oci(["delete", "--force", "oci-test-weight"]).code).toBe(0);
    } else {
      expect(weighted.stderr).toMatch(/^diyc-oci: (linux\.resources\.blockIO\.weightDevice: .*|cgroup write .*weight_device: .*)\n$/);
      expect(existsSync(join(root, "oci-test-weight"))).toBe(false);
    }
    if (!existsSync("/sys/fs/cgroup/unified/cgroup.subtree_control") || readFileSync("/sys/fs/cgroup/unified/cgroup.controllers", "utf8").trim() === "") {
      const unified = oci(["create", "--bundle", bundle("oci-test-unified", (c) => (c.linux.resources.unified = { "memory.high": "64M" })), "oci-test-unified"]);
      expect(unified.stderr).toBe("diyc-oci: linux.resources.unified: cgroup v2 files, but this host's controllers are on cgroup v1\n");
    }
    if (!existsSync("/sys/fs/cgroup/hugetlb")) {
      const huge = oci(["create", "--bundle", bundle("oci-test-huge", (c) => (c.linux.resources.hugepageLimits = [{ pageSize: "2MB", limit: 2097152 }])), "oci-test-huge"]);
      expect(huge.stderr).toBe("diyc-oci: linux.resources: the hugetlb controller is not mounted on this host\n");
      expect(existsSync(join(root, "oci-test-huge"))).toBe(false);
    }
  });

  test("--preserve-fds: the caller's fds 3 and 4 are the command's 3 and 4", () => {
    const first = join(dir, "fd3");
    const second = join(dir, "fd4");
    writeFileSync(first, "three\n");
    writeFileSync(second, "four\n");
    const withFds = (args: string[]) => {
      const child = Bun.spawnSync([DIYC_OCI, "--root", root, ...args], {
        stdio: ["ignore", "pipe", "pipe", Bun.file(first), Bun.file(second)] as never,
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      });
      return { code: child.exitCode, stdout: child.stdout!.toString(), stderr: child.stderr!.toString() };
    };
    const id = "oci-test-fds";
    const r = withFds(["run", "--preserve-fds", "2", "--bundle", bundle(id, (c) => (c.process.args = ["sh", "-c", "cat <&3; cat <&4; ls /proc/self/fd | wc -l"])), id]);
    expect(r).toEqual({ code: 0, stdout: "three\nfour\n6\n", stderr: "" }); // 0-4, and ls's own directory
  });

  test("--preserve-fds: the monitor of a foreground run keeps no copy (a caller's pipe ends when the container closes it)", async () => {
    const file = join(dir, "held");
    writeFileSync(file, "");
    const id = "oci-test-fds-held";
    const child = Bun.spawn([DIYC_OCI, "--root", root, "run", "--preserve-fds", "1", "--bundle", bundle(id, (c) => (c.process.args = ["sh", "-c", "echo up; sleep 30"])), id], {
      stdio: ["ignore", "pipe", "pipe", Bun.file(file)] as never, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    try {
      const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("up\n");
      const holders = (pids: number[]) => pids.filter((pid) => {
        try {
          return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === file);
        } catch {
          return false;
        }
      });
      const monitors = helperProcesses().filter((pid) => readFileSync(`/proc/${pid}/status`, "utf8").includes(`PPid:\t${child.pid}\n`));
      expect(monitors).toHaveLength(1);
      expect(holders(monitors)).toEqual([]);
    } finally {
      oci(["kill", id, "KILL"]);
      await child.exited;
      oci(["delete", "--force", id]);
    }
  });

  test("a time namespace with linux.timeOffsets: the container's boot time is a day earlier", () => {
    const id = "oci-test-time";
    const r = oci(["run", "--bundle", bundle(id, (c) => {
      c.linux.namespaces.push({ type: "time" });
      c.linux.timeOffsets = { boottime: { secs: 86400, nanosecs: 0 }, monotonic: { secs: 3600, nanosecs: 0 } };
      c.process.args = ["cat", "/proc/uptime"];
    }), id]);
    const host = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const inside = Number(r.stdout.split(" ")[0]);
    expect(inside - host).toBeGreaterThan(86400 - 60);
    expect(inside - host).toBeLessThan(86400 + 60);
  });

  test("process.scheduler and ioPriority, set on the init before it runs", () => {
    const id = "oci-test-sched";
    expect(oci(["run", "-d", "--bundle", bundle(id, (c) => {
      c.process.args = ["sleep", "1000"];
      c.process.scheduler = { policy: "SCHED_BATCH", nice: 7 };
      c.process.ioPriority = { class: "IOPRIO_CLASS_IDLE", priority: 0 };
    }), id]).code).toBe(0);
    const pid = state(id).pid;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    expect([fields[19 - 3], fields[41 - 3]]).toEqual(["7", "3"]); // nice, policy (SCHED_BATCH)
    expect(Bun.spawnSync(["ionice", "-p", String(pid)]).stdout.toString().trim()).toBe("idle");
    expect(oci(["delete", "--force", id]).code).toBe(0);
    const bad = oci(["create", "--bundle", bundle("oci-test-badsched", (c) => (c.process.scheduler = { policy: "SCHED_NOPE" })), "oci-test-badsched"]);
    expect(bad.stderr).toBe('diyc-oci: config.json: process.scheduler.policy: unknown policy "SCHED_NOPE"\n');
  });

  test("update: a new pids limit applies to the running container", () => {
    const id = "oci-test-update";
    expect(oci(["run", "-d", "--bundle", bundle(id, (c) => (c.process.args = ["sleep", "1000"])), id]).code).toBe(0);
    expect(oci(["update", "--resources", "-", id], { stdin: JSON.stringify({ pids: { limit: 42 }, memory: { limit: 64 * 1024 * 1024 } }) }).code).toBe(0);
    const pidsMax = topCgroups(`${cgroupParent.slice(1)}/${id}`).map((d) => join(d, "pids.max")).find(existsSync)!;
    expect(readFileSync(pidsMax, "utf8").trim()).toBe("42");
    expect(oci(["delete", "--force", id]).code).toBe(0);
  });

  test("features and --version", () => {
    const features = JSON.parse(oci(["features"]).stdout);
    expect(features.linux.namespaces).toContain("network");
    expect(features.linux.seccomp.operators).toContain("SCMP_CMP_MASKED_EQ");
    expect(oci(["--version"]).stdout).toStartWith("diyc-oci version ");
  });

  test("an ordinary user is refused in one line, before anything is read or made (features still answers)", () => {
    const asNobody = (args: string[]) => {
      const child = Bun.spawnSync(asUser(NOBODY, [DIYC_OCI, "--root", root, ...args]), { env: { PATH: "/usr/bin:/bin" } });
      return { code: child.exitCode, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
    };
    for (const args of [["list"], ["state", "x"], ["create", "--bundle", dir, "oci-test-nobody"]]) {
      expect([args[0], asNobody(args)]).toEqual([args[0], {
        code: 125, stdout: "", stderr: "diyc-oci: this runtime needs root (uid 0; this is uid 65534): rootless containers are diyc's (diyc run as an ordinary user), not yet the OCI runtime's\n",
      }]);
    }
    expect(asNobody(["features"]).code).toBe(0);
    expect(existsSync(join(root, "oci-test-nobody"))).toBe(false);
  });
});
