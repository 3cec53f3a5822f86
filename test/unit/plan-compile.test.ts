// The plan compiler, without root: what a container is made of, step by step.

import { describe, expect, test } from "bun:test";
import { compileContainerPlan, cloneFlags, validateSysctl } from "../../src/plan/compile";
import { CLONE } from "../../src/linux/namespaces";
import { CAPABILITIES } from "../../src/linux/capabilities";
import { DEFAULT_CAPABILITIES } from "../../src/spec/defaults";
import { compileNsexecPlan } from "../../src/plan/nsexec";
import { MOUNT_ATTR, MS, parseMountOptions } from "../../src/plan/mount-options";
import { boundingSet, buildContainerSpec, type ContainerOptions } from "../../src/spec/container-spec";
import type { Op } from "../../src/plan/ops";

const etcFiles = { hostname: "/s/c/web/hostname", hosts: "/s/c/web/hosts", resolvConf: "/s/c/web/resolv.conf" };

function spec(overrides: Partial<ContainerOptions> = {}) {
  return buildContainerSpec({ name: "web", args: ["sh"], env: [], terminal: false, network: "host", etcFiles, ...overrides });
}

function compile(overrides: Partial<ContainerOptions> = {}, holdMountNamespace = false) {
  return compileContainerPlan({
    holdMountNamespace,
    spec: spec(overrides),
    rootfs: { lowerdirs: ["/s/images/busybox/rootfs"], upperdir: "/s/c/web/upper", workdir: "/s/c/web/work", merged: "/s/c/web/merged" },
    exitRecord: { path: "/s/c/web/exit.json", reserve: "/s/c/web/exit.json.reserve" },
    cleanupHook: ["/bun", "/diyc.ts", "--root", "/s", "_cleanup", "web"],
    isDirectory: () => false,
    cgroupView: { version: "v1", hierarchies: [{ directory: "cpu,cpuacct", controllers: "cpu,cpuacct" }, { directory: "memory", controllers: "memory" }] },
  }, 40);
}

const steps = (ops: Op[]) => ops.map((op) => op.describe).filter(Boolean);

describe("container plan", () => {
  test("the whole sequence of steps (snapshot)", () => {
    expect(steps(compile().ops)).toMatchSnapshot();
  });

  test("the order that matters: private before overlay, mounts before pivot_root, privileges last", () => {
    const s = steps(compile().ops);
    const at = (prefix: string) => {
      const index = s.findIndex((line) => line.startsWith(prefix));
      if (index < 0) throw new Error(`no step starting ${JSON.stringify(prefix)}`);
      return index;
    };
    expect(at("make / private")).toBeLessThan(at("mount overlay"));
    expect(at("mount overlay")).toBeLessThan(at("mount proc on /proc"));
    expect(at("mount tmpfs on /dev ")).toBeLessThan(at("mount devpts on /dev/pts"));
    expect(at("mknod /dev/null")).toBeLessThan(at("pivot_root"));
    expect(at("pivot_root")).toBeLessThan(at("mask /proc/kcore"));
    expect(at("setuid")).toBeLessThan(at("capabilities"));
    expect(at("set no_new_privs")).toBeLessThan(at("created: wait for start"));
    expect(at("created: wait for start")).toBe(s.length - 3);
    expect(s.at(-2)).toMatch(/^seccomp filter: \d+ BPF instructions, default errno 38$/);
    expect(s.at(-1)).toBe('exec "sh"');
  });

  test("--rm: the monitor holds the mount namespace (a setting, before clone); a kept container's is not held", () => {
    const held = compile({}, true).ops;
    const at = held.findIndex((op) => op.code === "HoldMountNamespace");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(held.findIndex((op) => op.code === "SetDumpable"));
    expect(held[at]!.args).toEqual([]);
    expect(compile().ops.some((op) => op.code === "HoldMountNamespace")).toBe(false);
  });

  test("never the host's devtmpfs", () => {
    expect(compile().ops.some((op) => op.args.includes("devtmpfs"))).toBe(false);
  });

  test("namespaces: host network by default, a new one otherwise; cgroup ns is unshared later", () => {
    expect(cloneFlags(spec())).toBe(CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC);
    expect(cloneFlags(spec({ network: "none" })) & CLONE.NEWNET).toBe(CLONE.NEWNET);
    expect(compile().ops.find((op) => op.code === "Unshare")?.args).toEqual([CLONE.NEWCGROUP]);
  });

  test("capabilities: the default set for root, an empty inheritable set, the rest dropped from the bounding set", () => {
    const ops = compile().ops;
    const caps = ops.find((op) => op.code === "SetCaps")!;
    expect(caps.args).toEqual([0x800405fbn, 0x800405fbn, 0n]);
    const dropped = ops.find((op) => op.code === "DropBounding")!.args[0] as Uint8Array;
    expect(dropped.length).toBe(41 - 11);
    expect([...dropped]).toContain(21); // CAP_SYS_ADMIN
  });

  test("a non-root user keeps the bounding set but no effective capabilities", () => {
    const ops = compile({ user: { uid: 1000, gid: 100 } }).ops;
    expect(ops.some((op) => op.code === "KeepCaps")).toBe(true);
    expect(ops.find((op) => op.code === "SetCaps")!.args).toEqual([0n, 0n, 0n]);
    expect(ops.find((op) => op.code === "Setuid")!.args).toEqual([1000]);
  });

  test("exec searches the container's PATH, not the host's", () => {
    const exec = compile({ env: ["PATH=/opt/bin"] }).ops.at(-1)!;
    expect(exec.args[3]).toBe("/opt/bin");
    expect(compile({ args: ["/bin/true"] }).ops.at(-1)!.args[3]).toBe("");
  });

  test("read-only root: mount_setattr on / alone; a read-only bind mount takes a remount", () => {
    const root = compile({ readOnlyRoot: true }).ops.find((op) => op.code === "MountSetattr")!;
    expect(root.args).toEqual(["/", MOUNT_ATTR.RDONLY, 0, 0]);
    expect(steps(compile().ops)).toContain("remount /etc/hostname rdonly,nosuid,nodev,noexec");
  });

  test("without -t the init leaves the caller's session; with -t the pty op makes its own", () => {
    expect(compile().ops.filter((op) => op.code === "NewSession")).toHaveLength(1);
    const tty = compile({ terminal: true }).ops;
    expect(tty.some((op) => op.code === "NewSession")).toBe(false);
    expect(tty.some((op) => op.code === "Terminal")).toBe(true);
  });
});

describe("nsexec plan", () => {
  test("remounts /proc only with a pid namespace, and sets the hostname", () => {
    const plan = compileNsexecPlan({ pid: true, net: true, uts: true, hostname: "myhost", ipc: false, user: false, cgroup: false, command: ["sh"], env: [], cwd: "/tmp" });
    expect(plan.ops[0]!.args[0]).toBe(CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS);
    expect(steps(plan.ops)).toEqual([
      "clone new namespaces: mount, uts, pid, network", // also what a clone failure is reported as
      "make / private, recursively",
      "mount proc on /proc (this pid namespace's view)",
      "sethostname myhost",
      "open / as the root for paths",
      "chdir /tmp",
      "reset signal dispositions and mask",
      "close every fd but stdio on exec",
      "created: wait for start",
      'exec "sh"',
    ]);
  });
});

describe("mount options", () => {
  test("flags, propagation and filesystem data are separated", () => {
    expect(parseMountOptions(["nosuid", "ro", "rprivate", "mode=755", "size=1k"])).toEqual({
      flags: MS.NOSUID | MS.RDONLY,
      propagation: MS.PRIVATE | MS.REC,
      data: "mode=755,size=1k",
      recursive: { set: 0, clear: 0 },
    });
    expect(parseMountOptions(["rw", "exec"]).flags).toBe(0);
  });

  test("the recursive options become mount_setattr attributes; ro stays a top-only flag", () => {
    const { flags, recursive } = parseMountOptions(["rbind", "rro", "rnosuid", "rnoatime"]);
    expect(flags).toBe(MS.BIND | MS.REC);
    expect(recursive).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME_MASK });
    expect(parseMountOptions(["rro", "rrw"]).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    expect(parseMountOptions(["ro"]).recursive).toEqual({ set: 0, clear: 0 });
  });
});

describe("capabilities and sysctls from flags", () => {
  test("--cap-add/--cap-drop: names with or without CAP_, any case, ALL, docker's order", () => {
    expect(boundingSet()).toEqual(DEFAULT_CAPABILITIES.slice().sort((a, b) => CAPABILITIES.indexOf(a as never) - CAPABILITIES.indexOf(b as never)));
    expect(boundingSet(["net_raw"])).toContain("CAP_NET_RAW");
    expect(boundingSet([], ["CAP_CHOWN"])).not.toContain("CAP_CHOWN");
    expect(boundingSet(["CHOWN"], ["ALL"])).toEqual(["CAP_CHOWN"]);
    expect(boundingSet(["ALL"], ["SYS_ADMIN"])).toHaveLength(CAPABILITIES.length - 1);
    expect(() => boundingSet(["NOPE"])).toThrow('unknown capability "NOPE" in --cap-add');
    // One diyc does not hold (this host withholds SYS_RESOURCE from root) cannot be given: a clear line, not a capset EPERM.
    expect(() => boundingSet(["SYS_RESOURCE"], [], ["CAP_CHOWN", "CAP_KILL"])).toThrow("cannot add CAP_SYS_RESOURCE: diyc itself does not hold it");
    expect(boundingSet(["ALL"], [], ["CAP_CHOWN", "CAP_KILL"])).toEqual(["CAP_CHOWN", "CAP_KILL"]);
    // A capability that guards system calls opens them in the default seccomp profile too.
    const admin = compile({ capAdd: ["SYS_ADMIN"] }).ops.find((op) => op.code === "Seccomp")!;
    expect((admin.args[0] as Uint8Array).length).not.toBe((compile().ops.find((op) => op.code === "Seccomp")!.args[0] as Uint8Array).length);
  });

  test("sysctls: only keys of the container's own namespaces, written before /proc/sys turns read-only", () => {
    const own = spec({ network: "none" });
    expect(() => validateSysctl("net.ipv4.ip_forward", own)).not.toThrow();
    expect(() => validateSysctl("net.ipv4.ip_forward", spec())).toThrow("not in a namespace of the container's own");
    expect(() => validateSysctl("kernel.shmmax", own)).not.toThrow();
    expect(() => validateSysctl("kernel.core_pattern", own)).toThrow();
    expect(() => validateSysctl("vm.overcommit_memory", own)).toThrow();
    const s = steps(compile({ network: "none" }).ops);
    expect(s.indexOf("sysctl net.ipv4.ping_group_range=0 2147483647")).toBeLessThan(s.indexOf("make /proc/sys read-only"));
    expect(steps(compile().ops).some((d) => d.startsWith("sysctl "))).toBe(false); // the host's network: never
  });
});

describe("a user namespace (--userns=auto)", () => {
  test("the layers and the container's directory are idmapped by the helper, attached in a tmpfs, and the overlay is mounted from there", () => {
    const plan = compile({ userns: "auto", usernsBase: 700000 });
    expect(plan.ops[0]!.code).toBe("Clone");
    expect((plan.ops[0]!.args[0] as number) & CLONE.NEWUSER).toBe(CLONE.NEWUSER);
    const idmaps = plan.ops.filter((op) => op.code === "IdmapMount").map((op) => op.args[0]);
    expect(idmaps).toEqual(["/s/images/busybox/rootfs", "/s/c/web"]);
    const s = steps(plan.ops);
    expect(s).toContain("mount the idmapped /s/c/web on /tmp/.diyc-root/container");
    expect(s).toContain("mount overlay on /tmp/.diyc-root/container/merged (lowerdir=/tmp/.diyc-root/layer0,upperdir=/tmp/.diyc-root/container/upper,workdir=/tmp/.diyc-root/container/work)");
    // diyc's /etc files are reached through the idmapped container directory.
    expect(s).toContain("mount bind /tmp/.diyc-root/container/hostname on /etc/hostname");
    expect(plan.ops.filter((op) => op.code === "Mknod")).toEqual([]); // no mknod in a user namespace: the host's nodes are bound
  });

  test("subordinate id ranges: diyc's, else root's", async () => {
    const { subordinateRanges } = await import("../../src/runtime/userns");
    expect(subordinateRanges("root:100000:65536\ndiyc:200000:131072\nbad:line\n")).toEqual([{ start: 200000, count: 131072 }]);
    expect(subordinateRanges("root:100000:65536\n")).toEqual([{ start: 100000, count: 65536 }]);
    expect(subordinateRanges("someone:1:2\n")).toEqual([]);
  });
});
