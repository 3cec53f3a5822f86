// Rootless diyc: an ordinary user of the test's own (test/helpers/rootless.ts)
// runs containers with no root at all. Checked from inside (ids, owners,
// what root there can do) and from the host (the processes' uids, what lands
// on disk, pasta, what is left afterwards). Then what root inside a
// rootless container can do to the host's root files.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DIYC, isRoot, mountsUnder, processExists } from "../helpers/diyc";
import { freePort, push, REGISTRY_BINARY, SKOPEO, startRegistry } from "../helpers/registry";
import { buildProbe } from "../helpers/probe";
import { asUser, createTestUser, diycAs, NOBODY, removeTestUser, rootlessTools, userDirectory, userEnv, type TestUser } from "../helpers/rootless";
import { busyboxEntries, OciLayoutWriter } from "../fixtures/oci-layout";

const ready = isRoot && rootlessTools.every((tool) => existsSync(tool)) && existsSync("/usr/bin/pasta") && existsSync("/bin/busybox");
const describeRootless = ready ? describe : describe.skip;

let user: TestUser;
let root: string;
let tmp: string;
let probeDir: string;
const as = (args: string[], options?: { stdin?: string; env?: Record<string, string> }) => diycAs(user, root, args, options);
const state = (name: string) => JSON.parse(readFileSync(join(root, "containers", name, "state.json"), "utf8"));
const uidOf = (pid: number) => Number(/^Uid:\t(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
const processesOf = (uid: number) => readdirSync("/proc").filter((p) => /^\d+$/.test(p) && processExists(Number(p)) && uidOf(Number(p)) === uid);

beforeAll(() => {
  if (!ready) return;
  user = createTestUser();
  root = userDirectory(user, "diyc-rootless-");
  tmp = mkdtempSync("/tmp/diyc-rootless-files-");
  chmodSync(tmp, 0o755);
  probeDir = join(tmp, "probe");
  mkdirSync(probeDir);
  buildProbe(probeDir);
});

afterAll(() => {
  if (!ready) return;
  try {
    // Whatever a failed test left: removed by the user, as the user would.
    for (const name of existsSync(join(root, "containers")) ? readdirSync(join(root, "containers")) : []) as(["rm", "-f", name]);
    expect(mountsUnder(root)).toEqual([]);
    // No process of the user's: monitors, inits, pasta (a pasta that exited may wait a moment for init to reap it).
    expect(processesOf(user.uid)).toEqual([]);
    expect(as(["image", "prune"]).code).toBe(0);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
    removeTestUser(user);
  }
});

/** An image whose files have other owners, a setuid file, a file capability, a whiteout and an opaque directory. */
function ownersLayout(): string {
  const layout = join(tmp, "layout");
  if (existsSync(layout)) return layout;
  const capability = Buffer.alloc(20);
  capability.writeUInt32LE(0x02000001, 0); // VFS_CAP_REVISION_2, effective
  capability.writeUInt32LE(1 << 13, 4); // permitted: CAP_NET_RAW
  const writer = new OciLayoutWriter(layout);
  const image = writer.image({
    layers: [
      {
        compression: "gzip",
        entries: [
          ...busyboxEntries(),
          { name: "home/", type: "dir", mode: 0o755 },
          { name: "home/u/", type: "dir", mode: 0o700, uid: 1000, gid: 1000 },
          { name: "home/u/notes", content: "mine", mode: 0o600, uid: 1000, gid: 1000 },
          { name: "srv/", type: "dir", mode: 0o755 },
          { name: "srv/data", content: "www", mode: 0o640, uid: 33, gid: 33 },
          { name: "bin/suid", content: "x", mode: 0o4755 },
          { name: "bin/pinger", content: "x", mode: 0o755, pax: { "SCHILY.xattr.security.capability": capability.toString("latin1") } },
          { name: "opq/", type: "dir", mode: 0o755 },
          { name: "opq/old", content: "old" },
          { name: "gone", content: "x" },
        ],
      },
      { compression: "gzip", entries: [{ name: "opq/.wh..wh..opq" }, { name: "opq/new", content: "new" }, { name: ".wh.gone" }] },
    ],
    config: { Cmd: ["sh"] },
  });
  writer.writeIndex({ owners: image });
  Bun.spawnSync(["chmod", "-R", "a+rX", layout]);
  return layout;
}

const OWNERS_CHECK = "stat -c '%u:%g %a' /home/u /home/u/notes /srv/data /bin/suid; ls /opq; test -e /gone || echo gone; cat /home/u/notes";
const OWNERS_SEEN = "1000:1000 700\n1000:1000 600\n33:33 640\n0:0 4755\nnew\ngone\nmine";

describeRootless("rootless: an ordinary user runs containers", () => {
  test("root inside is the user outside; a container's other ids are the user's subordinate ids; exec, stop and rm work", () => {
    expect(as(["run", "-d", "--name", "r1", "busybox", "sleep", "60"])).toMatchObject({ code: 0, stderr: "" });
    try {
      const init = state("r1").init.pid;
      expect(uidOf(init)).toBe(user.uid); // the container's root: the user, not root
      const inside = as(["exec", "r1", "sh", "-c", "id -u; tr -s ' ' < /proc/self/uid_map; touch /root/by-root; stat -c %u:%g /bin/busybox"]);
      expect(inside).toMatchObject({ code: 0, stdout: `0\n 0 ${user.uid} 1\n 1 ${user.subid} 65536\n0:0\n` });
      expect(as(["exec", "-u", "1000", "r1", "sh", "-c", "id -u; touch /tmp/by-1000"]).stdout).toBe("1000\n");
      const upper = join(root, "containers", "r1", "upper");
      expect(statSync(join(upper, "root/by-root")).uid).toBe(user.uid);
      expect(statSync(join(upper, "tmp/by-1000")).uid).toBe(user.subid + 999);
      expect(as(["ps"]).stdout).toMatch(/\br1\b.*Up/);
      // No cgroup here (v1): stats lists it, with nothing to measure.
      expect(as(["stats", "--no-stream", "r1"]).stdout.split("\n")[1]).toMatch(/^r1\s+--\s+--\s+--\s+--$/);
      expect(as(["stop", "-t", "1", "r1"]).code).toBe(0);
      expect(processExists(init)).toBe(false);
    } finally {
      // The container's files include one of a subordinate id: only root of a user namespace may delete it.
      expect(as(["rm", "-f", "r1"])).toMatchObject({ code: 0, stderr: "" });
    }
    expect(existsSync(join(root, "containers", "r1"))).toBe(false);
  });

  test("--rm, the seed's form, and the store under $XDG_DATA_HOME when no --root is given", () => {
    const data = userDirectory(user, "diyc-rootless-xdg-");
    try {
      const child = Bun.spawnSync({ cmd: asUser(user, [DIYC, "seed1", "busybox", "sh", "-c", "echo hi > /f; cat /f"]), env: userEnv({ XDG_DATA_HOME: data }) });
      expect(child.stdout.toString()).toBe("hi\n");
      expect(readdirSync(join(data, "diyc/containers"))).toEqual(["seed1"]);
      const removed = Bun.spawnSync({ cmd: asUser(user, [DIYC, "rm", "seed1"]), env: userEnv({ XDG_DATA_HOME: data }) });
      expect(removed.exitCode).toBe(0);
      expect(readdirSync(join(data, "diyc/containers"))).toEqual([]);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  test("an image's owners, modes, file capabilities, whiteouts and opaque directories survive a rootless import", () => {
    const layout = ownersLayout();
    expect(as(["image", "import", layout, "owners:1"])).toMatchObject({ code: 0, stdout: "owners:1\n" });
    expect(as(["run", "--rm", "--name", "o1", "owners:1", "sh", "-c", OWNERS_CHECK])).toMatchObject({ code: 0, stdout: OWNERS_SEEN });
    // On the host: the layer's files belong to the user's subordinate ids; the
    // capability names the user (the namespace's root) as its root (v3).
    const layers = readdirSync(join(root, "images/layers")).map((hex) => join(root, "images/layers", hex, "root"));
    const bottom = layers.find((dir) => existsSync(join(dir, "home")))!;
    expect(lstatSync(join(bottom, "home/u")).uid).toBe(user.subid + 999);
    expect(lstatSync(join(bottom, "srv/data")).gid).toBe(user.subid + 32);
    const cap = Bun.spawnSync(["python3", "-c", "import os, sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], 'security.capability'))", join(bottom, "bin/pinger")]).stdout;
    expect(cap.length).toBe(24); // VFS_CAP_REVISION_3: 20 bytes and the root uid
    expect(cap.readUInt32LE(20)).toBe(user.uid);
    // Removing the image removes those files too.
    expect(as(["image", "rm", "owners:1"]).code).toBe(0);
    expect(as(["image", "prune"]).code).toBe(0);
    expect(existsSync(bottom)).toBe(false);
  });

  test("pull from a registry: the same owners; the user's pull leaves no staging behind", async () => {
    if (!existsSync(REGISTRY_BINARY) || !existsSync(SKOPEO)) throw new Error(`${REGISTRY_BINARY} and ${SKOPEO} are needed (./setup installs them)`);
    const registry = await startRegistry(join(tmp, "registry"));
    try {
      await push(ownersLayout(), "owners", `${registry.host}/test/owners:1`, ["--dest-tls-verify=false"]);
      const ref = `${registry.host}/test/owners:1`;
      expect(as(["pull", "--insecure-registry", registry.host, ref]).code).toBe(0);
      expect(as(["run", "--rm", "--name", "p1", ref, "sh", "-c", OWNERS_CHECK])).toMatchObject({ code: 0, stdout: OWNERS_SEEN });
      expect(readdirSync(join(root, "images/tmp"))).toEqual([]);
      expect(as(["image", "rm", ref]).code).toBe(0);
    } finally {
      await registry.stop();
    }
  });

  test("--net none has lo up and nothing else; -p publishes through pasta, reached from the host; pasta stops with the container", async () => {
    const none = as(["run", "--rm", "--net", "none", "--name", "n1", "busybox", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags"]);
    expect(none).toMatchObject({ code: 0, stdout: "lo\nunknown\n0x9\n" });
    const port = freePort();
    const web = as(["run", "-d", "--name", "web", "-p", `127.0.0.1:${port}:8080`, "busybox", "sh", "-c",
      "mkdir /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"]);
    expect(web).toMatchObject({ code: 0, stderr: "" });
    const pastaPid = Number(readFileSync(join(root, "containers/web/pasta.pid"), "utf8"));
    try {
      expect(uidOf(pastaPid)).toBe(user.uid);
      let body = "";
      for (let i = 0; i < 50 && body !== "served\n"; i++) {
        body = Bun.spawnSync(["timeout", "5", "curl", "-s", `http://127.0.0.1:${port}/`]).stdout.toString();
        if (body !== "served\n") await Bun.sleep(100);
      }
      expect(body).toBe("served\n");
      expect(as(["port", "web"]).stdout).toBe(`8080/tcp -> 127.0.0.1:${port}\n`);
    } finally {
      expect(as(["rm", "-f", "web"]).code).toBe(0);
    }
    expect(processExists(pastaPid)).toBe(false);
    const listening = Bun.spawnSync(["ss", "-Htln", `sport = :${port}`]);
    expect(listening.exitCode).toBe(0);
    expect(listening.stdout.toString()).toBe("");
  });

  test("cgroup limits are refused in one line where the host delegates none (v1 here), and nothing is made", () => {
    const r = as(["run", "--rm", "-m", "64", "--name", "limited", "busybox", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^diyc: rootless: cgroup limits \(memory\) cannot be applied: this host's cgroups are v1.*\n$/);
    expect(existsSync(join(root, "containers", "limited"))).toBe(false);
    // Without limits, the same container runs.
    expect(as(["run", "--rm", "--name", "limited", "busybox", "true"]).code).toBe(0);
    // Nor are there bridges to manage, or addresses of diyc's to ask for.
    expect(as(["network", "ls"])).toMatchObject({ code: 125, stderr: expect.stringMatching(/^diyc: network: rootless, there are no bridges to manage.*\n$/) });
    expect(as(["run", "--rm", "-i", "10.0.0.2", "--name", "ip", "busybox", "true"])).toMatchObject({ code: 125, stderr: expect.stringMatching(/^diyc: -i: a rootless container's address is pasta's.*\n$/) });
  });

  test("a -h among the container's arguments is the container's: the run is still rootless", () => {
    // (It once made diyc take the command for a request for help, and skip the user's identity.)
    const r = as(["run", "--rm", "--name", "rh", "busybox", "sh", "-c", "id -u; tr -s ' ' < /proc/self/uid_map", "-h"]);
    expect(r).toMatchObject({ code: 0, stderr: "", stdout: `0\n 0 ${user.uid} 1\n 1 ${user.subid} 65536\n` });
  });

  test("a user without subordinate ids gets one line saying what to add", () => {
    const r = diycAs(NOBODY, "/tmp", ["ps"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^diyc: rootless diyc needs 65536 subordinate ids for nobody in \/etc\/subuid \(as root: usermod --add-subuids .*\)\n$/);
  });
});

// The escape suite (escapes.test.ts) runs every attack rootless too; these are rootless's own.
describeRootless("rootless escapes", () => {
  test("root inside has no power over the host's root files, even --privileged: read, write, chown, devices, mounts", () => {
    const hostDir = join(tmp, "host-owned");
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, "secret"), "host root's\n", { mode: 0o600 });
    chmodSync(hostDir, 0o755);
    for (const privileged of [[], ["--privileged"]]) {
      const r = as(["run", "--rm", ...privileged, "--volume", "/etc:/hostetc:ro", "--volume", `${hostDir}:/h`, "--volume", `${probeDir}:/probe:ro`, "--name", "rl-esc", "busybox", "sh", "-c",
        "cat /hostetc/shadow >/dev/null 2>&1 && echo read-shadow; cat /h/secret 2>/dev/null && echo read-secret; " +
        "chown 0 /h/secret 2>/dev/null && echo chowned; rm -f /h/secret 2>/dev/null; " +
        "mknod /tmp/sda b 8 0 2>/dev/null && echo mknod; touch /h/new 2>/dev/null && echo wrote; " +
        "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null && echo sysrq; /probe/probe write /hostetc/x; echo done"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("write /hostetc/x: EROFS\ndone\n");
      expect(readFileSync(join(hostDir, "secret"), "utf8")).toBe("host root's\n");
      expect(readdirSync(hostDir)).toEqual(["secret"]);
    }
  });
});
