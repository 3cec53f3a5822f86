// Rootless diyc without the kernel: who the user is and which ids they get,
// what the extraction defers to the user-namespace pass, how pasta is asked
// for ports, which limits are refused, and the plan's rootless overlay.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestedLimits, UndelegatedCgroups } from "../../src/cgroups/undelegated";
import { Extractor, type DeferredOwnership } from "../../src/image/extract";
import { TarParser } from "../../src/image/tar";
import { rangesFor, rootlessIdentity, rootlessIdMaps, userName } from "../../src/linux/rootless";
import { linuxSyscalls } from "../../src/linux/syscalls";
import { pastaPortOption } from "../../src/network/rootless";
import { compileContainerPlan } from "../../src/plan/compile";
import { buildContainerSpec } from "../../src/spec/container-spec";
import { delegatedSubtree } from "../../src/runtime/limits";
import { makeTar } from "../fixtures/tar-writer";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync("/tmp/diyc-rootless-unit-");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function files(subuid: string, subgid = subuid) {
  writeFileSync(join(dir, "passwd"), "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  writeFileSync(join(dir, "subuid"), subuid);
  writeFileSync(join(dir, "subgid"), subgid);
  return { passwd: join(dir, "passwd"), subuid: join(dir, "subuid"), subgid: join(dir, "subgid") };
}

describe("the rootless identity", () => {
  test("a user's name and ranges, by name or by uid; the first range of 65536 or more", () => {
    expect(userName(1000, "alice:x:1000:1000::/h:/bin/sh\n")).toBe("alice");
    expect(rangesFor("alice:100:10\n1000:5000:70000\nbob:1:2\n", ["alice", "1000"])).toEqual([{ start: 100, count: 10 }, { start: 5000, count: 70000 }]);
    const identity = rootlessIdentity(1000, 1000, files("alice:100:10\nalice:200000:65536\n", "1000:300000:65536\n"));
    expect(identity).toEqual({ uid: 1000, gid: 1000, user: "alice", subuid: 200000, subgid: 300000 });
    expect(rootlessIdMaps(identity)).toEqual({
      uid: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 200000, size: 65536 }],
      gid: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 300000, size: 65536 }],
    });
  });

  test("too few subordinate ids: one line that says what to run", () => {
    expect(() => rootlessIdentity(1000, 1000, files("alice:100:1000\n", "alice:100:65536\n"))).toThrow(
      /^rootless diyc needs 65536 subordinate ids for alice in .*subuid \(as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice\)$/,
    );
  });
});

describe("a rootless extraction defers what only a root may do", () => {
  test("other owners and security.* xattrs are recorded; opaque dirs get user.overlay.opaque; devices are skipped; trusted.* dropped", () => {
    const root = join(dir, "root");
    mkdirSync(root);
    const deferred = new Map<string, DeferredOwnership>();
    const extractor = new Extractor(root, linuxSyscalls, { preserveOwnership: false, deferred });
    const parser = new TarParser(extractor);
    parser.push(makeTar([
      { name: "home/", type: "dir", mode: 0o755 },
      { name: "home/u/", type: "dir", mode: 0o700, uid: 1000, gid: 1000 },
      { name: "bin/", type: "dir", mode: 0o755 },
      { name: "bin/ping", content: "x", mode: 0o4755, pax: { "SCHILY.xattr.security.capability": "\u0001\u0000\u0000\u0002", "SCHILY.xattr.trusted.x": "y" } },
      { name: "bin/link", type: "symlink", linkname: "ping", uid: 2, gid: 2 },
      { name: "dev/", type: "dir", mode: 0o755 },
      { name: "dev/sda", type: "block", devmajor: 8, devminor: 0 },
      { name: "dev/fifo", type: "fifo", uid: 5, gid: 5 },
      { name: "opq/", type: "dir", mode: 0o755 },
      { name: "opq/.wh..wh..opq" },
      { name: "again", content: "a", uid: 7, gid: 7 },
      { name: "again", content: "b" }, // the same path again, now root's: nothing to do for it
    ]));
    parser.end();
    extractor.finish();
    const at = (path: string) => deferred.get(join(root, path));
    expect(at("home/u")).toEqual({ uid: 1000, gid: 1000, mode: 0o700 });
    expect(at("bin/ping")).toEqual({ uid: 0, gid: 0, mode: 0o4755, xattrs: [["security.capability", Buffer.from("\u0001\u0000\u0000\u0002", "latin1").toString("base64")]] });
    expect(at("bin/link")).toEqual({ uid: 2, gid: 2 });
    expect(at("dev/fifo")).toEqual({ uid: 5, gid: 5, mode: 0o644 });
    expect(at("again")).toBeUndefined();
    expect(readdirSync(join(root, "dev"))).toEqual(["fifo"]);
    expect(lstatSync(join(root, "bin/ping")).mode & 0o7777).toBe(0o4755);
    const xattr = Bun.spawnSync(["getfattr", "--absolute-names", "-d", "-m", "-", join(root, "opq")]).stdout.toString();
    expect(xattr).toContain('user.overlay.opaque="y"');
    expect(xattr).not.toContain("trusted");
  });
});

describe("rootless networks and limits", () => {
  test("pasta's port options", () => {
    expect(pastaPortOption({ hostPort: 8080, containerPort: 80, protocol: "tcp" })).toEqual(["-t", "8080:80"]);
    expect(pastaPortOption({ hostIp: "127.0.0.1", hostPort: 5353, containerPort: 53, protocol: "udp" })).toEqual(["-u", "127.0.0.1/5353:53"]);
  });

  test("limits are named and refused; the default device rules are not a limit", () => {
    const devices = [{ allow: false, type: "a" as const, major: "*" as const, minor: "*" as const, access: "rwm" }];
    expect(requestedLimits({ devices })).toEqual([]);
    expect(requestedLimits({ devices, memory: { limit: 1 }, pids: { limit: 5 } })).toEqual(["memory", "pids"]);
    const cgroups = new UndelegatedCgroups("v1", "hybrid", "this host's cgroups are v1");
    expect(cgroups.create("c", { devices }).paths).toEqual([]);
    expect(() => cgroups.create("c", { memory: { limit: 1 } })).toThrow(/^rootless: cgroup limits \(memory\) cannot be applied: this host's cgroups are v1/);
  });
});

describe("the rootless plan", () => {
  test("a user namespace mapped onto the user's ids, a plain overlay with userxattr, no idmapped copies, devices bound", () => {
    const maps = rootlessIdMaps({ uid: 1000, gid: 1000, user: "alice", subuid: 200000, subgid: 200000 });
    const etcFiles = { hostname: "/s/c/w/hostname", hosts: "/s/c/w/hosts", resolvConf: "/s/c/w/resolv.conf" };
    const spec = buildContainerSpec({ name: "w", args: ["sh"], env: [], terminal: false, network: "host", etcFiles, rootlessMaps: maps });
    expect(spec.linux.uidMappings).toEqual(maps.uid);
    expect(spec.linux.namespaces.map((n) => n.type)).toContain("user");
    expect(() => buildContainerSpec({ name: "w", args: ["sh"], env: [], terminal: false, network: "host", etcFiles, rootlessMaps: maps, userns: "auto" }))
      .toThrow(/--userns=auto is for root/);
    const plan = compileContainerPlan({
      spec,
      rootfs: { lowerdirs: ["/s/l/a"], upperdir: "/s/c/w/upper", workdir: "/s/c/w/work", merged: "/s/c/w/merged" },
      isDirectory: () => false,
      cgroupView: { version: "v1", hierarchies: [] },
      rootless: true,
    }, 40);
    const steps = plan.ops.map((op) => op.describe);
    expect(steps).toContain("mount overlay on /s/c/w/merged (lowerdir=/s/l/a,upperdir=/s/c/w/upper,workdir=/s/c/w/work,userxattr)");
    expect(plan.ops.some((op) => op.code === "IdmapMount" || op.code === "Mknod")).toBe(false);
    expect(steps).toContain("mount bind /dev/null on /dev/null (no mknod in a user namespace)");
    expect(steps).toContain("mount bind /sys on /sys"); // the host's network: no sysfs of its own to mount
  });
});

describe("the cgroup v2 subtree delegated to the user", () => {
  const mountinfo = (mount: string) => `26 25 0:24 / ${mount} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n`;
  test("the highest ancestor of diyc's own cgroup (never the cgroup itself) that can be written", () => {
    for (const d of ["user.slice/u/app", "user.slice/u/app/leaf"]) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ["cgroup.procs", "cgroup.subtree_control"]) for (const d of ["user.slice", "user.slice/u", "user.slice/u/app"]) writeFileSync(join(dir, d, f), "");
    // (As root every level can be written: the top one below the mount is the answer.)
    expect(delegatedSubtree(mountinfo(dir), () => "0::/user.slice/u/app/leaf\n")).toBe("user.slice");
    expect(delegatedSubtree(mountinfo(dir), () => "0::/user.slice\n")).toBeUndefined(); // no strict ancestor below the root
    expect(delegatedSubtree(mountinfo(dir), () => "0::/elsewhere/x\n")).toBeUndefined(); // no such directory: not writable
    const hybrid = `${mountinfo(dir)}27 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n`;
    expect(delegatedSubtree(hybrid, () => "0::/user.slice/u/app/leaf\n")).toBeUndefined(); // v1 controllers: no delegation
  });
});
