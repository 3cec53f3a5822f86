// An OCI bundle's config.json into a Spec (src/spec/bundle.ts), and that
// Spec into a plan for the OCI door: no root needed.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { compileContainerPlan } from "../../src/plan/compile";
import { parseConfig, parseResources } from "../../src/spec/bundle";
import { cgroupPlace } from "../../src/runtime/oci/cgroup";
import { parseOciSignal } from "../../src/runtime/oci/lifecycle";

const bundle = mkdtempSync("/tmp/oci-unit-");
mkdirSync(join(bundle, "rootfs"));
const security = { apparmor: false, selinux: false };
afterAll(() => rmSync(bundle, { recursive: true, force: true }));

function config(edit: (c: any) => void = () => {}) {
  const c: any = {
    ociVersion: "1.0.2",
    process: { args: ["sh"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 }, capabilities: { bounding: ["CAP_CHOWN"] } },
    root: { path: "rootfs" },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }], cgroupsPath: "/a/b/c" },
    somethingNew: { ignored: true },
  };
  edit(c);
  return c;
}

const refusal = (edit: (c: any) => void) => {
  try {
    parseConfig(config(edit), bundle, security);
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
};

describe("config.json", () => {
  test("a minimal config: defaults filled in, unknown fields ignored, root made absolute, standard devices added", () => {
    const { spec, rootfs } = parseConfig(config(), bundle, security);
    expect(rootfs).toBe(join(bundle, "rootfs"));
    expect(spec.process.capabilities.effective).toEqual([]);
    expect(spec.process.noNewPrivileges).toBe(false);
    expect(spec.linux.devices!.map((d) => d.path)).toContain("/dev/null");
    expect(spec.linux.cgroupsPath).toBe("/a/b/c");
  });

  test("invalid values are one line naming the field", () => {
    expect(refusal((c) => (c.process.user.uid = -1))).toBe("config.json: process.user.uid: must be from 0 to 4294967295");
    expect(refusal((c) => (c.process.args = []))).toBe("config.json: process.args: must name the program to run");
    expect(refusal((c) => (c.process.cwd = "tmp"))).toBe('config.json: process.cwd: "tmp" is not an absolute path');
    expect(refusal((c) => (c.process.capabilities.bounding = ["CAP_NOPE"]))).toBe('config.json: process.capabilities.bounding[0]: unknown capability "CAP_NOPE"');
    expect(refusal((c) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 2, hard: 1 }]))).toBe("config.json: process.rlimits[0]: soft is above hard");
    expect(refusal((c) => (c.mounts[0].destination = "proc"))).toBe('config.json: mounts[0].destination: "proc" is not an absolute path');
    expect(refusal((c) => (c.linux.namespaces = [{ type: "pid" }, { type: "pid" }]))).toBe("config.json: linux.namespaces[1]: the pid namespace is listed twice");
    expect(refusal((c) => (c.root.path = "nope"))).toContain("root.path:");
    expect(refusal((c) => (c.process.apparmorProfile = "x"))).toContain("AppArmor is not enabled on this host");
    expect(refusal((c) => (c.linux.timeOffsets = { monotonic: { secs: 1 } }))).toBe("config.json: linux.timeOffsets: given without a new time namespace in linux.namespaces");
    expect(refusal((c) => (c.linux.timeOffsets = { realtime: { secs: 1 } }))).toContain("only monotonic and boottime");
    expect(refusal((c) => (c.linux.resources = { blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 0 }] } }))).toContain("linux.resources.blockIO.weightDevice[0].weight");
    expect(refusal((c) => (c.linux.resources = { unified: { "../../release_agent": "x" } }))).toContain("not a controller's file name");
    expect(refusal((c) => (c.ociVersion = "2.0.0"))).toContain("ociVersion");
  });

  test("resources: what podman and containerd send", () => {
    expect(parseResources({ memory: { limit: 33554432, swap: 67108864 }, pids: { limit: 0 }, cpu: { shares: 0, quota: 50000, period: 100000 }, devices: [{ allow: false, access: "rwm" }] }, "linux.resources"))
      .toEqual({ memory: { limit: 33554432, swap: 67108864 }, pids: { limit: -1 }, cpu: { quota: 50000, period: 100000 } });
  });

  test("mount options of runtimes' own are dropped; relative bind sources are the bundle's", () => {
    const { spec } = parseConfig(config((c) => c.mounts.push({ destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "tmpcopyup"] }, { destination: "/data", type: "bind", source: "data", options: ["rbind"] })), bundle, security);
    expect(spec.mounts[1]!.options).toEqual(["nosuid"]);
    expect(spec.mounts[2]!.source).toBe(join(bundle, "data"));
  });
});

describe("cgroupsPath", () => {
  const spec = (cgroupsPath?: string) => parseConfig(config((c) => (c.linux.cgroupsPath = cgroupsPath)), bundle, security).spec;
  test("cgroupfs paths: the last level is the container's, the rest the caller's", () => {
    expect(cgroupPlace(spec("/libpod_parent/libpod-abc"), "x")).toEqual({ parent: "libpod_parent", name: "libpod-abc" });
    expect(cgroupPlace(spec("/default/ctr"), "x")).toEqual({ parent: "default", name: "ctr" });
    expect(cgroupPlace(spec(undefined), "x")).toEqual({ parent: "diyc-oci", name: "x" });
  });
  test("systemd's slice:prefix:name is refused clearly", () => {
    expect(() => cgroupPlace(spec("machine.slice:libpod:abc"), "x")).toThrow("systemd's slice:prefix:name form");
  });
});

describe("the plan for the OCI door", () => {
  test("a FIFO barrier the helper leaves at, the console socket, the executable checked before the barrier, the root bound onto itself", () => {
    const { spec, rootfs } = parseConfig(config((c) => {
      c.process.terminal = true;
      c.process.noNewPrivileges = true;
    }), bundle, security);
    const plan = compileContainerPlan({
      spec, rootfs: { path: rootfs }, isDirectory: () => true, cgroupView: { version: "v2" },
      oci: { startFifo: "/run/x/exec.fifo", consoleSocket: { path: "/tmp/console.sock", rows: 24, cols: 80 } },
    }, 40);
    const codes = plan.ops.map((op) => op.code);
    expect(codes).toContain("StartFifo");
    expect(codes).toContain("ConsoleSocket");
    expect(codes).not.toContain("RelayTerminal");
    expect(codes).not.toContain("ExitRecord");
    expect(codes.indexOf("FindExec")).toBeLessThan(codes.indexOf("AwaitStart"));
    expect(plan.ops.find((op) => op.code === "OpenRoot")!.args).toEqual([rootfs]);
  });

  test("without no_new_privs the seccomp filter is loaded before the capabilities are dropped", () => {
    const profile = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [] };
    const codes = (nnp: boolean) => {
      const { spec, rootfs } = parseConfig(config((c) => {
        c.process.noNewPrivileges = nnp;
        c.linux.seccomp = profile;
      }), bundle, security);
      return compileContainerPlan({ spec, rootfs: { path: rootfs }, isDirectory: () => true, cgroupView: { version: "v2" } }, 40).ops.map((op) => op.code);
    };
    expect(codes(false).indexOf("Seccomp")).toBeLessThan(codes(false).indexOf("SetCaps"));
    expect(codes(true).indexOf("Seccomp")).toBeGreaterThan(codes(true).indexOf("AwaitStart"));
  });
});

describe("kill's signals", () => {
  test("numbers and names, with or without SIG, real-time ones too; TERM by default", () => {
    expect([parseOciSignal("9"), parseOciSignal("KILL"), parseOciSignal("SIGKILL"), parseOciSignal("sigterm"), parseOciSignal(undefined)]).toEqual([9, 9, 9, 15, 15]);
    expect([parseOciSignal("RTMIN"), parseOciSignal("SIGRTMIN+3"), parseOciSignal("RTMAX-1")]).toEqual([34, 37, 63]);
    expect(() => parseOciSignal("NOPE")).toThrow("invalid signal");
    expect(() => parseOciSignal("99")).toThrow("invalid signal");
  });
});
