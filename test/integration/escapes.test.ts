// Escape attempts from inside containers, each the attack itself, run from a
// real terminal where a terminal matters (a pty the test owns,
// test/fixtures/pty-session.py). Each failed before its fix. Every attack
// runs twice: as root, and rootless, as an ordinary user of the test's own
// (test/helpers/rootless.ts; docs/rootless.md).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diyc, isRoot, removeStore, tempStore, type Result } from "../helpers/diyc";
import { buildProbe } from "../helpers/probe";
import { asUser, createTestUser, diycAs, removeTestUser, rootlessTools, userDirectory, type TestUser } from "../helpers/rootless";
import { onTerminal, SESSION } from "../helpers/terminal";

/** Who runs diyc: root with a store of the test's own, or an ordinary user with theirs. */
interface Mode {
  rootless: boolean;
  /** diyc ARGS on this mode's store. */
  diyc(args: string[]): Result;
  /** The command line that starts diyc on this store, for a shell (before ARGS). */
  argv(): string[];
}

let root: string;
let user: TestUser | undefined;
let userRoot: string;
let probeDir: string;
const rootlessReady = isRoot && rootlessTools.every((tool) => existsSync(tool));

const MODES: Mode[] = [
  { rootless: false, diyc: (args) => diyc(root, args), argv: () => [DIYC, "--root", root] },
  { rootless: true, diyc: (args) => diycAs(user!, userRoot, args), argv: () => asUser(user!, [DIYC, "--root", userRoot]) },
];

beforeAll(() => {
  root = tempStore("diyc-escape-");
  probeDir = mkdtempSync("/tmp/diyc-probe-");
  chmodSync(probeDir, 0o755); // the rootless user's containers mount it too
  buildProbe(probeDir);
  if (rootlessReady) {
    user = createTestUser();
    userRoot = userDirectory(user, "diyc-escape-rootless-");
  }
});
afterAll(() => {
  removeStore(root);
  rmSync(probeDir, { recursive: true, force: true });
  if (user) {
    try {
      for (const name of existsSync(join(userRoot, "containers")) ? readdirSync(join(userRoot, "containers")) : []) diycAs(user, userRoot, ["rm", "-f", name]);
      expect(existsSync(join(userRoot, "containers")) ? readdirSync(join(userRoot, "containers")) : []).toEqual([]);
    } finally {
      rmSync(userRoot, { recursive: true, force: true });
      removeTestUser(user);
    }
  }
});

for (const mode of MODES) {
const describeRoot = (name: string, fn: () => void) =>
  (mode.rootless ? (rootlessReady ? describe : describe.skip) : isRoot ? describe : describe.skip)(mode.rootless ? `rootless: ${name}` : name, fn);
const command = () => mode.argv().join(" ");

const MARK = "xyzzy-injected";
/**
 * What TIOCSTI on a terminal that is not the caller's controlling one gives:
 * EPERM. A host that turned TIOCSTI off altogether (dev.tty.legacy_tiocsti=0)
 * gives EIO to everyone, which would say nothing about diyc.
 */
const LEGACY_TIOCSTI = "/proc/sys/dev/tty/legacy_tiocsti"; // kernels before 6.2 have no such switch: TIOCSTI is on
const TIOCSTI_REFUSED = existsSync(LEGACY_TIOCSTI) && readFileSync(LEGACY_TIOCSTI, "utf8").trim() === "0" ? "EIO" : "EPERM";

describeRoot("the terminal: a container cannot type into the user's shell", () => {
  const probe = `--volume ${"${PROBE}"}:/probe:ro`;
  const withProbe = (s: string) => s.replace("${PROBE}", probeDir);

  for (const [label, security] of [["default profile", ""], ["seccomp=unconfined: the session alone", "--security-opt seccomp=unconfined "]] as const) {
    test(`run without -t (${label}): TIOCSTI on fds 0-2 and /dev/tty fails, nothing reaches the terminal`, () => {
      // --name: docker's form, which gets no pty of its own (the seed's form at a terminal would).
      // -i: stdin is the user's terminal too, the strongest case.
      const out = onTerminal(`${command()} run --rm -i ${security}${withProbe(probe)} --name sti-run busybox /probe/probe sti '${MARK}'`);
      expect(out).toContain(`fd0: ${TIOCSTI_REFUSED}`); // the user's terminal itself
      // stdout and stderr pass through the monitor (it keeps the log): pipes, no terminal at all.
      for (const fd of ["fd1", "fd2"]) expect(out).toMatch(new RegExp(`${fd}: (${TIOCSTI_REFUSED}|ENOTTY)`));
      expect(out).toContain("open /dev/tty: ENXIO"); // no controlling terminal, as under runc and podman
      expect(out).toContain("READ[]");
      expect(out).not.toContain(MARK);
    }, 30_000);

    test(`exec without -t (${label}): the same`, () => {
      const started = mode.diyc(["run", "-d", ...(security ? ["--security-opt", "seccomp=unconfined"] : []), "--volume", `${probeDir}:/probe:ro`, "sti-exec", "busybox", "sleep", "30"]);
      expect(started.code).toBe(0);
      try {
        const out = onTerminal(`${command()} exec -i sti-exec /probe/probe sti '${MARK}'`);
        for (const fd of ["fd0", "fd1", "fd2"]) expect(out).toContain(`${fd}: ${TIOCSTI_REFUSED}`);
        expect(out).toContain("open /dev/tty: ENXIO");
        expect(out).toContain("READ[]");
        expect(out).not.toContain(MARK);
      } finally {
        expect(mode.diyc(["rm", "-f", "sti-exec"]).code).toBe(0);
      }
    }, 30_000);
  }

  test("the seed's form at a terminal gets a pty of its own (as -it): what it injects stays in its pty", () => {
    const out = onTerminal(`${command()} run --rm --security-opt seccomp=unconfined --volume ${probeDir}:/probe:ro sti-seed busybox sh -c 'tty; /probe/probe sti ${MARK}'`);
    expect(out).toContain("/dev/pts/0"); // the container's own devpts
    // It did inject a whole line, into its own pty (seccomp off; the terminal is its own)...
    expect(out).toContain("fd0: OK");
    // ... and the user's shell read nothing: an empty line, not the injected one.
    expect(out).toContain("READ[]\n");
    expect(out).not.toContain(`READ[${MARK}`);
  }, 30_000);

  test("the default profile refuses TIOCSTI and TIOCLINUX even on the container's own pty (-t)", () => {
    const out = onTerminal(`${command()} run --rm -t --volume ${probeDir}:/probe:ro sti-tty busybox sh -c '/probe/probe sti ${MARK}; /probe/probe tioclinux'`);
    expect(out).toContain("fd0: EPERM");
    expect(out).toContain("open /dev/tty: OK"); // its own pty is its controlling terminal
    expect(out).toContain("/dev/tty: EPERM");
    expect(out).toContain("tioclinux: EPERM");
    expect(out).not.toContain(MARK);
  }, 30_000);
});

describeRoot("exec -w cannot follow /proc magic links out of the container", () => {
  test("exec -w /proc/self/fd/0 with the host's / on stdin is refused", () => {
    expect(mode.diyc(["run", "-d", "wd-escape", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      // Before the fix this listed the host's /: stdin was the host's root directory.
      const child = Bun.spawnSync(["sh", "-c", `exec ${command()} exec -i -w /proc/self/fd/0 wd-escape sh -c 'ls ../../..' < /`]);
      const stderr = child.stderr.toString();
      expect(child.exitCode).toBe(125);
      expect(stderr).toMatch(/^diyc: chdir \/proc\/self\/fd\/0: .*\((ELOOP|ENOENT|EXDEV)\)\n$/);
      expect(child.stdout.toString()).toBe("");
      // A working directory inside the container still works.
      const ok = mode.diyc(["exec", "-w", "/etc", "wd-escape", "pwd"]);
      expect(ok.stdout).toBe("/etc\n");
    } finally {
      expect(mode.diyc(["rm", "-f", "wd-escape"]).code).toBe(0);
    }
  });
});

describeRoot("--volume HOST:CTR:ro is read-only all the way down", () => {
  test("a mount under the host directory is read-only inside too", () => {
    const host = mkdtempSync("/tmp/diyc-rro-");
    chmodSync(host, 0o755); // a rootless container's root (the user) must reach it
    const sub = join(host, "sub");
    mkdirSync(sub);
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "rro-test", sub]);
    expect(mounted.exitCode).toBe(0);
    try {
      const r = mode.diyc(["run", "--rm", "--volume", `${host}:/data:ro`, "--volume", `${probeDir}:/probe:ro`, "rro", "busybox", "sh", "-c",
        "/probe/probe write /data/top; /probe/probe write /data/sub/below; grep ' /data' /proc/self/mountinfo"]);
      expect(r.code).toBe(0);
      const [top, below, ...mountLines] = r.stdout.trim().split("\n");
      expect([top, below]).toEqual(["write /data/top: EROFS", "write /data/sub/below: EROFS"]); // writable before: only the top was remounted
      // Both mounts, each with "ro" as its mount options' first word.
      expect(mountLines.map((l) => { const f = l.split(" "); return [f[4], f[5]!.split(",")[0]]; })).toEqual([["/data", "ro"], ["/data/sub", "ro"]]);
    } finally {
      Bun.spawnSync(["umount", sub]);
      rmSync(host, { recursive: true, force: true });
    }
  });

  test("--read-only makes the root read-only, and leaves /dev/shm and --tmpfs writable", () => {
    const r = mode.diyc(["run", "--rm", "--read-only", "--tmpfs", "/scratch", "--volume", `${probeDir}:/probe:ro`, "ro-root", "busybox", "sh", "-c",
      "/probe/probe write /etc/x; /probe/probe write /dev/shm/x; /probe/probe write /scratch/x"]);
    expect(r).toMatchObject({ code: 0, stdout: "write /etc/x: EROFS\nwrite /dev/shm/x: OK\nwrite /scratch/x: OK\n" });
  });
});

describeRoot("default privileges, inside the container and in exec", () => {
  test("no CAP_NET_RAW, yet ping works in a network namespace of the container's own (ICMP echo sockets)", () => {
    const hostSetting = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8");
    const r = mode.diyc(["run", "--rm", "--net", "none", "--volume", `${probeDir}:/probe:ro`, "ping", "busybox", "sh", "-c",
      "cat /proc/sys/net/ipv4/ping_group_range; /probe/probe rawsock; /probe/probe ping 127.0.0.1; echo x > /proc/sys/net/ipv4/ping_group_range 2>/dev/null || echo sysctl: read-only"]);
    // Every group may ping; in a user namespace, every group it maps.
    const groups = mode.rootless ? "0\t65535" : "0\t2147483647";
    expect(r.stdout).toBe(`${groups}\nrawsock: EPERM\nping 127.0.0.1: reply\nsysctl: read-only\n`);
    // --cap-add NET_RAW brings raw sockets back (busybox's own ping needs them).
    const raw = mode.diyc(["run", "--rm", "--net", "none", "--cap-add", "NET_RAW", "--volume", `${probeDir}:/probe:ro`, "ping", "busybox", "sh", "-c", "/probe/probe rawsock; ping -c 1 127.0.0.1 >/dev/null && echo busybox ping: ok"]);
    expect(raw.stdout).toBe("rawsock: OK\nbusybox ping: ok\n");
    // The host's own setting is untouched.
    expect(readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8")).toBe(hostSetting);
  });

  test("an exec'd process has exactly the init's capabilities, no_new_privs, seccomp filter and a session of its own", () => {
    expect(mode.diyc(["run", "-d", "same-privs", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      const fields = "grep -E '^(CapPrm|CapEff|CapBnd|CapInh|NoNewPrivs|Seccomp):' /proc/$1/status";
      const init = mode.diyc(["exec", "same-privs", "sh", "-c", fields, "sh", "1"]).stdout;
      const own = mode.diyc(["exec", "same-privs", "sh", "-c", fields, "sh", "self"]).stdout;
      expect(own).toBe(init);
      expect(own).toContain("Seccomp:\t2");
      expect(own).toContain("NoNewPrivs:\t1");
      // Its own session: the session id is its own pid (ps -o sid from busybox is not there, so /proc/self/stat field 6).
      const session = mode.diyc(["exec", "same-privs", "sh", "-c", "read -r stat < /proc/self/stat; set -- ${stat##*) }; echo $4 $$"]).stdout.trim().split(" ");
      expect(session[0]).toBe(session[1]);
    } finally {
      expect(mode.diyc(["rm", "-f", "same-privs"]).code).toBe(0);
    }
  });

  test("--security-opt seccomp=FILE: a docker-format profile decides; a bad one is one line, 125, nothing made", () => {
    const dir = mkdtempSync("/tmp/diyc-seccomp-");
    chmodSync(dir, 0o755); // the rootless user's diyc reads the profile
    try {
      const profile = join(dir, "profile.json");
      // Everything allowed but mkdir/mkdirat, which fail with EACCES (13).
      Bun.write(profile, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }));
      const r = mode.diyc(["run", "--rm", "--security-opt", `seccomp=${profile}`, "prof", "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; grep ^Seccomp: /proc/self/status"]);
      expect(r.stdout).toContain("Permission denied");
      expect(r.stdout).toContain("Seccomp:\t2");
      // podman's own default profile (Debian's containers-common): docker's format, with Go arch names.
      const podman = mode.diyc(["run", "--rm", "--security-opt", "seccomp=/usr/share/containers/seccomp.json", "prof-podman", "busybox", "sh", "-c", "echo works; grep ^Seccomp: /proc/self/status"]);
      expect(podman.code).toBe(0);
      expect(podman.stdout).toStartWith("works\n");
      expect(podman.stdout).toContain("Seccomp:\t2");
      Bun.write(profile, "{ not json");
      const bad = mode.diyc(["run", "--rm", "--security-opt", `seccomp=${profile}`, "prof2", "busybox", "true"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toMatch(/^diyc: invalid seccomp profile .*profile\.json: not JSON .*\n$/);
      expect(mode.diyc(["ps", "-a"]).stdout).not.toContain("prof2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeRoot("Ctrl-C on a foreground run without -t", () => {
  test("reaches the container through the monitor; diyc waits for its exit and returns its status", () => {
    const child = Bun.spawnSync(["python3", SESSION, "24", "80", "wait:ready", "pause:0.3", "send:\\x03", "--",
      ...mode.argv(), "run", "--rm", "--name", "ctrl-c", "busybox", "sh", "-c", "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.1; done"]);
    const out = child.stdout.toString();
    expect(out).toContain("got INT");
    expect(out).toEndWith("\nEXIT=3\n");
  }, 30_000);

  test("a container that ignores it is killed at the third Ctrl-C, and removed (--rm)", () => {
    const child = Bun.spawnSync(["python3", SESSION, "24", "80", "wait:ready", "pause:0.3", "send:\\x03", "pause:0.3", "send:\\x03", "pause:0.3", "send:\\x03", "--",
      ...mode.argv(), "run", "--rm", "--name", "stubborn", "busybox", "sh", "-c", "trap '' INT; echo ready; sleep 100"]);
    const out = child.stdout.toString();
    expect(out).toEndWith("\nEXIT=137\n");
    expect(mode.diyc(["ps", "-a"]).stdout).not.toContain("stubborn");
  }, 30_000);
});

describeRoot("-v says which calls seccomp refused", () => {
  test("the kernel logs each refusal (SECCOMP_FILTER_FLAG_LOG) and diyc -v names the call and the command", () => {
    const r = mode.diyc(["run", "-v", "--rm", "denied", "busybox", "sh", "-c", "unshare -U true 2>/dev/null; echo done"]);
    expect(r.stdout).toBe("done\n");
    expect(r.stderr).toContain("refusals logged by the kernel");
    if (mode.rootless) {
      // An ordinary user may not read the kernel's log (dmesg_restrict): diyc says so rather than stay silent.
      expect(r.stderr).toContain("HOST| seccomp refusals are not reported: the kernel's log (/dev/kmsg) cannot be read");
    } else {
      expect(r.stderr).toMatch(/CONTAINER\| seccomp: unshare \(pid \d+ on the host\) called unshare: refused with an errno/);
    }
    // Without -v nothing is logged and nothing is said.
    expect(mode.diyc(["run", "--rm", "quiet", "busybox", "sh", "-c", "unshare -U true 2>/dev/null; true"]).stderr).toBe("");
  });
});
}
