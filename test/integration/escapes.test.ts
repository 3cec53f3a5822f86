// Escape attempts from inside containers, each the attack itself, run from a
// real terminal where a terminal matters (a pty the test owns,
// test/fixtures/pty-session.py). Each failed before its fix.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diyc, isRoot, removeStore, tempStore } from "../helpers/diyc";
import { buildProbe } from "../helpers/probe";

const describeRoot = isRoot ? describe : describe.skip;
const SESSION = join(import.meta.dir, "../fixtures/pty-session.py");

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

/**
 * Runs `command` in bash on a new pty (its controlling terminal), then has bash
 * read one line from that terminal: anything a container managed to push into
 * the terminal's input queue would be read there (and echoed) as the user's
 * shell would have run it.
 */
function onTerminal(command: string): string {
  const script = `${command}; read -t 1 line; echo "READ[$line]"`;
  const child = Bun.spawnSync(["python3", SESSION, "24", "80", "--", "bash", "--norc", "--noprofile", "-c", script]);
  return child.stdout.toString();
}

const MARK = "xyzzy-injected";

describeRoot("the terminal: a container cannot type into the user's shell", () => {
  const probe = `--volume ${"${PROBE}"}:/probe:ro`;
  const withProbe = (s: string) => s.replace("${PROBE}", probeDir);

  for (const [label, security] of [["default profile", ""], ["seccomp=unconfined: the session alone", "--security-opt seccomp=unconfined "]] as const) {
    test(`run without -t (${label}): TIOCSTI on fds 0-2 and /dev/tty fails, nothing reaches the terminal`, () => {
      const out = onTerminal(`${DIYC} --root ${root} run --rm ${security}${withProbe(probe)} sti-run busybox /probe/probe sti '${MARK}'`);
      for (const fd of ["fd0", "fd1", "fd2"]) expect(out).toMatch(new RegExp(`${fd}: (EPERM|EIO)`));
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
      expect(r.stdout).toContain("write /data/top: EROFS");
      expect(r.stdout).toContain("write /data/sub/below: EROFS"); // writable before: only the top was remounted
      for (const line of r.stdout.split("\n").filter((l) => /^\d+ .* \/data/.test(l))) expect(line).toMatch(/ ro[, ]/);
    } finally {
      Bun.spawnSync(["umount", sub]);
      rmSync(host, { recursive: true, force: true });
    }
  });

  test("--read-only makes the root read-only, and leaves /dev/shm and --tmpfs writable", () => {
    const r = diyc(root, ["run", "--rm", "--read-only", "--tmpfs", "/scratch", "--volume", `${probeDir}:/probe:ro`, "ro-root", "busybox", "sh", "-c",
      "/probe/probe write /etc/x; /probe/probe write /dev/shm/x; /probe/probe write /scratch/x"]);
    expect(r.stdout).toContain("write /etc/x: EROFS");
    expect(r.stdout).toContain("write /dev/shm/x: OK");
    expect(r.stdout).toContain("write /scratch/x: OK");
  });
});
