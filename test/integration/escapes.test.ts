// Escape attempts from inside containers, each the attack itself, run from a
// real terminal where a terminal matters (a pty the test owns,
// test/fixtures/pty-session.py). Each failed before its fix.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diyc, isRoot, removeStore, tempStore } from "../helpers/diyc";
import { buildProbe } from "../helpers/probe";
import { onTerminal, SESSION } from "../helpers/terminal";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;
let probeDir: string;
beforeAll(() => {
  root = tempStore("diyc-escape-");
  probeDir = mkdtempSync("/tmp/diyc-probe-");
  buildProbe(probeDir);
});
afterAll(() => {
  removeStore(root);
  rmSync(probeDir, { recursive: true, force: true });
});

const MARK = "xyzzy-injected";

describeRoot("the terminal: a container cannot type into the user's shell", () => {
  const probe = `--volume ${"${PROBE}"}:/probe:ro`;
  const withProbe = (s: string) => s.replace("${PROBE}", probeDir);

  for (const [label, security] of [["default profile", ""], ["seccomp=unconfined: the session alone", "--security-opt seccomp=unconfined "]] as const) {
    test(`run without -t (${label}): TIOCSTI on fds 0-2 and /dev/tty fails, nothing reaches the terminal`, () => {
      // --name: docker's form, which gets no pty of its own (the seed's form at a terminal would).
      // -i: stdin is the user's terminal too, the strongest case.
      const out = onTerminal(`${DIYC} --root ${root} run --rm -i ${security}${withProbe(probe)} --name sti-run busybox /probe/probe sti '${MARK}'`);
      expect(out).toMatch(/fd0: (EPERM|EIO)/); // the user's terminal itself
      // stdout and stderr pass through the monitor (it keeps the log): pipes, no terminal at all.
      for (const fd of ["fd1", "fd2"]) expect(out).toMatch(new RegExp(`${fd}: (EPERM|EIO|ENOTTY)`));
      expect(out).toContain("open /dev/tty: ENXIO"); // no controlling terminal, as under runc and podman
      expect(out).toContain("READ[]");
      expect(out).not.toContain(MARK);
    }, 30_000);

    test(`exec without -t (${label}): the same`, () => {
      const started = diyc(root, ["run", "-d", ...(security ? ["--security-opt", "seccomp=unconfined"] : []), "--volume", `${probeDir}:/probe:ro`, "sti-exec", "busybox", "sleep", "30"]);
      expect(started.code).toBe(0);
      try {
        const out = onTerminal(`${DIYC} --root ${root} exec -i sti-exec /probe/probe sti '${MARK}'`);
        for (const fd of ["fd0", "fd1", "fd2"]) expect(out).toMatch(new RegExp(`${fd}: (EPERM|EIO)`));
        expect(out).toContain("open /dev/tty: ENXIO");
        expect(out).toContain("READ[]");
        expect(out).not.toContain(MARK);
      } finally {
        expect(diyc(root, ["rm", "-f", "sti-exec"]).code).toBe(0);
      }
    }, 30_000);
  }

  test("the seed's form at a terminal gets a pty of its own (as -it): what it injects stays in its pty", () => {
    const out = onTerminal(`${DIYC} --root ${root} run --rm --security-opt seccomp=unconfined --volume ${probeDir}:/probe:ro sti-seed busybox sh -c 'tty; /probe/probe sti ${MARK}'`);
    expect(out).toContain("/dev/pts/0"); // the container's own devpts
    expect(out).toContain("READ[]"); // the user's shell read nothing
  }, 30_000);

  test("the default profile refuses TIOCSTI and TIOCLINUX even on the container's own pty (-t)", () => {
    const out = onTerminal(`${DIYC} --root ${root} run --rm -t --volume ${probeDir}:/probe:ro sti-tty busybox sh -c '/probe/probe sti ${MARK}; /probe/probe tioclinux'`);
    expect(out).toContain("fd0: EPERM");
    expect(out).toContain("open /dev/tty: OK"); // its own pty is its controlling terminal
    expect(out).toContain("/dev/tty: EPERM");
    expect(out).toContain("tioclinux: EPERM");
    expect(out).not.toContain(MARK);
  }, 30_000);
});

describeRoot("exec -w cannot follow /proc magic links out of the container", () => {
  test("exec -w /proc/self/fd/0 with the host's / on stdin is refused", () => {
    expect(diyc(root, ["run", "-d", "wd-escape", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      // Before the fix this listed the host's /: stdin was the host's root directory.
      const child = Bun.spawnSync(["sh", "-c", `exec ${DIYC} --root ${root} exec -i -w /proc/self/fd/0 wd-escape sh -c 'ls ../../..' < /`]);
      const stderr = child.stderr.toString();
      expect(child.exitCode).toBe(125);
      expect(stderr).toMatch(/^diyc: chdir \/proc\/self\/fd\/0: .*\((ELOOP|ENOENT|EXDEV)\)\n$/);
      expect(child.stdout.toString()).toBe("");
      // A working directory inside the container still works.
      const ok = diyc(root, ["exec", "-w", "/etc", "wd-escape", "pwd"]);
      expect(ok.stdout).toBe("/etc\n");
    } finally {
      expect(diyc(root, ["rm", "-f", "wd-escape"]).code).toBe(0);
    }
  });
});

describeRoot("--volume HOST:CTR:ro is read-only all the way down", () => {
  test("a mount under the host directory is read-only inside too", () => {
    const host = mkdtempSync("/tmp/diyc-rro-");
    const sub = join(host, "sub");
    mkdirSync(sub);
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "rro-test", sub]);
    expect(mounted.exitCode).toBe(0);
    try {
      const r = diyc(root, ["run", "--rm", "--volume", `${host}:/data:ro`, "--volume", `${probeDir}:/probe:ro`, "rro", "busybox", "sh", "-c",
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
    const r = diyc(root, ["run", "--rm", "--read-only", "--tmpfs", "/scratch", "--volume", `${probeDir}:/probe:ro`, "ro-root", "busybox", "sh", "-c",
      "/probe/probe write /etc/x; /probe/probe write /dev/shm/x; /probe/probe write /scratch/x"]);
    expect(r).toMatchObject({ code: 0, stdout: "write /etc/x: EROFS\nwrite /dev/shm/x: OK\nwrite /scratch/x: OK\n" });
  });
});

describeRoot("default privileges, inside the container and in exec", () => {
  test("no CAP_NET_RAW, yet ping works in a network namespace of the container's own (ICMP echo sockets)", () => {
    const hostSetting = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8");
    const r = diyc(root, ["run", "--rm", "--net", "none", "--volume", `${probeDir}:/probe:ro`, "ping", "busybox", "sh", "-c",
      "cat /proc/sys/net/ipv4/ping_group_range; /probe/probe rawsock; /probe/probe ping 127.0.0.1; echo x > /proc/sys/net/ipv4/ping_group_range 2>/dev/null || echo sysctl: read-only"]);
    expect(r.stdout).toBe("0\t2147483647\nrawsock: EPERM\nping 127.0.0.1: reply\nsysctl: read-only\n");
    // --cap-add NET_RAW brings raw sockets back (busybox's own ping needs them).
    const raw = diyc(root, ["run", "--rm", "--net", "none", "--cap-add", "NET_RAW", "--volume", `${probeDir}:/probe:ro`, "ping", "busybox", "sh", "-c", "/probe/probe rawsock; ping -c 1 127.0.0.1 >/dev/null && echo busybox ping: ok"]);
    expect(raw.stdout).toBe("rawsock: OK\nbusybox ping: ok\n");
    // The host's own setting is untouched.
    expect(readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8")).toBe(hostSetting);
  });

  test("an exec'd process has exactly the init's capabilities, no_new_privs, seccomp filter and a session of its own", () => {
    expect(diyc(root, ["run", "-d", "same-privs", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      const fields = "grep -E '^(CapPrm|CapEff|CapBnd|CapInh|NoNewPrivs|Seccomp):' /proc/$1/status";
      const init = diyc(root, ["exec", "same-privs", "sh", "-c", fields, "sh", "1"]).stdout;
      const own = diyc(root, ["exec", "same-privs", "sh", "-c", fields, "sh", "self"]).stdout;
      expect(own).toBe(init);
      expect(own).toContain("Seccomp:\t2");
      expect(own).toContain("NoNewPrivs:\t1");
      // Its own session: the session id is its own pid (ps -o sid from busybox is not there, so /proc/self/stat field 6).
      const session = diyc(root, ["exec", "same-privs", "sh", "-c", "read -r stat < /proc/self/stat; set -- ${stat##*) }; echo $4 $$"]).stdout.trim().split(" ");
      expect(session[0]).toBe(session[1]);
    } finally {
      expect(diyc(root, ["rm", "-f", "same-privs"]).code).toBe(0);
    }
  });

  test("--security-opt seccomp=FILE: a docker-format profile decides; a bad one is one line, 125, nothing made", () => {
    const dir = mkdtempSync("/tmp/diyc-seccomp-");
    try {
      const profile = join(dir, "profile.json");
      // Everything allowed but mkdir/mkdirat, which fail with EACCES (13).
      Bun.write(profile, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }));
      const r = diyc(root, ["run", "--rm", "--security-opt", `seccomp=${profile}`, "prof", "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; grep ^Seccomp: /proc/self/status"]);
      expect(r.stdout).toContain("Permission denied");
      expect(r.stdout).toContain("Seccomp:\t2");
      // podman's own default profile (Debian's containers-common): docker's format, with Go arch names.
      const podman = diyc(root, ["run", "--rm", "--security-opt", "seccomp=/usr/share/containers/seccomp.json", "prof-podman", "busybox", "sh", "-c", "echo works; grep ^Seccomp: /proc/self/status"]);
      expect(podman.code).toBe(0);
      expect(podman.stdout).toStartWith("works\n");
      expect(podman.stdout).toContain("Seccomp:\t2");
      Bun.write(profile, "{ not json");
      const bad = diyc(root, ["run", "--rm", "--security-opt", `seccomp=${profile}`, "prof2", "busybox", "true"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toMatch(/^diyc: invalid seccomp profile .*profile\.json: not JSON .*\n$/);
      expect(diyc(root, ["ps", "-a"]).stdout).not.toContain("prof2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeRoot("Ctrl-C on a foreground run without -t", () => {
  test("reaches the container through the monitor; diyc waits for its exit and returns its status", () => {
    const child = Bun.spawnSync(["python3", SESSION, "24", "80", "wait:ready", "pause:0.3", "send:\\x03", "--",
      DIYC, "--root", root, "run", "--rm", "--name", "ctrl-c", "busybox", "sh", "-c", "trap 'echo got INT; exit 3' INT; echo ready; while :; do sleep 0.1; done"]);
    const out = child.stdout.toString();
    expect(out).toContain("got INT");
    expect(out).toEndWith("\nEXIT=3\n");
  }, 30_000);

  test("a container that ignores it is killed at the third Ctrl-C, and removed (--rm)", () => {
    const child = Bun.spawnSync(["python3", SESSION, "24", "80", "wait:ready", "pause:0.3", "send:\\x03", "pause:0.3", "send:\\x03", "pause:0.3", "send:\\x03", "--",
      DIYC, "--root", root, "run", "--rm", "--name", "stubborn", "busybox", "sh", "-c", "trap '' INT; echo ready; sleep 100"]);
    const out = child.stdout.toString();
    expect(out).toEndWith("\nEXIT=137\n");
    expect(diyc(root, ["ps", "-a"]).stdout).not.toContain("stubborn");
  }, 30_000);
});

describeRoot("-v says which calls seccomp refused", () => {
  test("the kernel logs each refusal (SECCOMP_FILTER_FLAG_LOG) and diyc -v names the call and the command", () => {
    const r = diyc(root, ["run", "-v", "--rm", "denied", "busybox", "sh", "-c", "unshare -U true 2>/dev/null; echo done"]);
    expect(r.stdout).toBe("done\n");
    expect(r.stderr).toContain("refusals logged by the kernel");
    expect(r.stderr).toMatch(/CONTAINER\| seccomp: unshare \(pid \d+ on the host\) called unshare: refused with an errno/);
    // Without -v nothing is logged and nothing is said.
    expect(diyc(root, ["run", "--rm", "quiet", "busybox", "sh", "-c", "unshare -U true 2>/dev/null; true"]).stderr).toBe("");
  });
});

