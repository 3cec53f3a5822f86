// `diyc run` on the real kernel, as root: the container is checked from
// inside (what a user would look at) and from the host, and every test
// proves that nothing is left behind.

import { Store } from "../../src/store/store";
import { imageRoot } from "../helpers/images";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  diyc, helperProcesses, isRoot, mountsUnder, pidsFromTrace, processExists, removeStore, storeCgroups, tempStore,
} from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;
let helpersBefore: number[];

beforeAll(() => {
  root = tempStore("diyc-run-");
});

afterAll(() => {
  removeStore(root);
});

// Once per test, not per run: a monitor leaked by a test's first run must not become the baseline of its second.
beforeEach(() => {
  helpersBefore = helperProcesses();
});

afterEach(() => {
  // No monitor, no mount and no container directory outlives a --rm run.
  expect(helperProcesses().filter((pid) => !helpersBefore.includes(pid))).toEqual([]);
  expect(mountsUnder(root)).toEqual([]);
});

/** Runs a shell script in a fresh --rm container and returns what it printed. */
function inside(script: string, extra: string[] = []) {
  const name = `c${Math.random().toString(36).slice(2, 10)}`;
  const result = diyc(root, ["run", "--rm", ...extra, name, "busybox", "sh", "-c", script]);
  expect(existsSync(join(root, "containers", name))).toBe(false);
  return { ...result, name };
}

describeRoot("isolation, seen from inside", () => {
  test("the command is pid 1 and /proc shows only the container's processes", () => {
    const r = inside("echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l");
    expect(r.stderr).toBe("");
    const [pid, count] = r.stdout.trim().split("\n");
    expect(pid).toBe("1");
    // sh, ls, grep, wc: a handful, never the host's hundreds.
    expect(Number(count)).toBeLessThanOrEqual(4);
    expect(r.code).toBe(0);
  });

  test("hostname is the name (or --hostname) and the NIS domain is diyc", () => {
    const r = inside("hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname; grep -c \"$(hostname)\" /etc/hosts");
    expect(r.stdout.split("\n").slice(0, 4)).toEqual([r.name, "diyc", r.name, "1"]);
    const custom = inside("hostname; echo $HOSTNAME", ["--hostname", "box1"]);
    expect(custom.stdout).toBe("box1\nbox1\n");
  });

  test("host mounts are invisible; / is the overlay; /sys is read-only", () => {
    const r = inside("cat /proc/mounts; touch /sys/x 2>&1 || echo sys-ro");
    const mounts = r.stdout.split("\n").filter((l) => l.includes(" "));
    expect(mounts[0]).toStartWith("overlay / overlay ");
    expect(mounts.some((l) => / \/sys sysfs ro,/.test(l))).toBe(true);
    // The host's own mount points (the store, /work, /run ...) are not there.
    expect(r.stdout).not.toContain(" /run ");
    expect(r.stdout).not.toContain(" /tmp ");
    expect(r.stdout).toContain("sys-ro");
    expect(r.stdout).not.toContain("devtmpfs");
  });

  test("/dev holds only the standard devices and links, with a private devpts", () => {
    const r = inside("ls -A /dev | tr '\\n' ' '; echo; ls -l /dev/null | cut -c1; readlink /dev/fd; readlink /dev/ptmx; grep ' /dev/pts ' /proc/mounts");
    const [listing, nullType, fdLink, ptmxLink, devpts] = r.stdout.split("\n");
    expect(listing!.trim().split(" ").sort()).toEqual(
      ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"],
    );
    expect(nullType).toBe("c");
    expect(fdLink).toBe("/proc/self/fd");
    expect(ptmxLink).toBe("pts/ptmx");
    expect(devpts).toContain("ptmxmode=666");
  });

  test("the default capabilities (podman's: no NET_RAW, MKNOD, AUDIT_WRITE), an empty inheritable set, no_new_privs", () => {
    const r = inside("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status");
    const status = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(/:\s+/)));
    expect(status).toEqual({
      CapInh: "0000000000000000",
      CapPrm: "00000000800405fb",
      CapEff: "00000000800405fb",
      CapBnd: "00000000800405fb",
      CapAmb: "0000000000000000",
      NoNewPrivs: "1",
    });
  });

  test("a seccomp filter by default: no new user namespace, no mount; unconfined on request", () => {
    const r = inside("grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1; mount -t tmpfs t /mnt 2>&1; echo done");
    expect(r.stdout).toStartWith("Seccomp:\t2\n");
    expect(r.stdout).toContain("unshare(0x10000000): Operation not permitted");
    expect(r.stdout).toContain("done\n");
    const loose = inside("grep '^Seccomp:' /proc/self/status", ["--security-opt", "seccomp=unconfined"]);
    expect(loose.stdout).toBe("Seccomp:\t0\n");
    expect(diyc(root, ["run", "--rm", "--security-opt", "apparmor=x", "so", "busybox", "true"])).toMatchObject({ code: 125 });
  });

  test("a non-root user has no effective capabilities", () => {
    const r = inside("id -u; id -g; grep CapEff /proc/self/status", ["--user", "1000:1000"]);
    expect(r.stdout).toBe("1000\n1000\nCapEff:\t0000000000000000\n");
  });

  test("masked and read-only /proc paths", () => {
    // /proc/keys is not empty on the host: here it is hidden. Both masks show as mounts.
    expect(readFileSync("/proc/keys", "utf8").length).toBeGreaterThan(0);
    const r = inside("cat /proc/keys | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro; grep -cE ' /proc/(acpi|keys) ' /proc/mounts");
    expect(r.stdout).toBe("0\n0\nro\n2\n");
  });

  test("only stdio is open in the command; SIGPIPE is back to its default", () => {
    const r = inside("ls /proc/self/fd | tr '\\n' ' '; echo; exec grep SigIgn /proc/self/status");
    // 0, 1, 2 and the fd ls opened to read the directory: nothing of diyc's or the helper's.
    expect(r.stdout.split("\n")[0]!.trim()).toBe("0 1 2 3");
    expect(r.stdout).toContain("SigIgn:\t0000000000000000");
  });

  test("environment and working directory: defaults, -e and -w", () => {
    const r = inside("echo $PATH; echo $HOME; echo $FOO; pwd", ["-e", "FOO=bar baz", "-w", "/srv/app"]);
    expect(r.stdout).toBe("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/root\nbar baz\n/srv/app\n");
  });

  test("--read-only makes / read-only", () => {
    const r = inside("touch /x 2>/dev/null || echo ro", ["--read-only"]);
    expect(r.stdout).toBe("ro\n");
  });
});

describeRoot("exit statuses", () => {
  test("the command's status is diyc's", () => {
    expect(inside("exit 7").code).toBe(7);
    expect(inside("true").code).toBe(0);
  });

  test("128+N after signal N", async () => {
    const run = Bun.spawn([join(import.meta.dir, "../../bin/diyc"), "--root", root, "run", "-v", "--rm", "sig", "busybox", "sh", "-c", "echo ready; sleep 30"],
      { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    await run.stdout.getReader().read();
    // A pid namespace's init ignores signals it has no handler for, except from outside: SIGKILL from the host.
    const stderr = run.stderr.getReader();
    let trace = "";
    while (!pidsFromTrace(trace)) trace += new TextDecoder().decode((await stderr.read()).value);
    process.kill(pidsFromTrace(trace)!.init, "SIGKILL");
    expect(await run.exited).toBe(137);
  });

  test("127 when not found, 126 when not executable, with one line", () => {
    const missing = diyc(root, ["run", "--rm", "nf", "busybox", "no-such-command"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('diyc: exec "no-such-command": executable file not found in $PATH\n');
    const notExec = diyc(root, ["run", "--rm", "ne", "busybox", "/etc/passwd"]);
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toBe('diyc: exec "/etc/passwd": permission denied (EACCES)\n');
  });

  test("125 for diyc's own errors, nothing half-made", () => {
    const cases: [string[], RegExp][] = [
      [["run", "x", "no-such-image", "true"], /^diyc: no such image: no-such-image\n$/],
      [["run", "bad/name", "busybox", "true"], /^diyc: invalid container name "bad\/name"/],
      [["run", "--nope", "x", "busybox"], /^diyc: unknown option --nope\n$/],
      [["run", "-e", "=NOKEY", "x", "busybox", "true"], /^diyc: invalid environment variable "=NOKEY"/],
      [["run", "-w", "relative", "x", "busybox", "true"], /^diyc: invalid working directory/],
    ];
    for (const [args, message] of cases) {
      const r = diyc(root, args);
      expect([args, r.code]).toEqual([args, 125]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split("\n").length).toBe(2);
    }
    expect(existsSync(join(root, "containers", "x"))).toBe(false);
  });
});

describeRoot("persistence, reruns and rm", () => {
  test("a container's files persist across runs; the image never changes; rm deletes it", () => {
    expect(diyc(root, ["run", "keep", "busybox", "sh", "-c", "echo hello > /data; rm /etc/group"]).code).toBe(0);
    const busyboxRoot = imageRoot(new Store(root), "busybox");
    const imageFiles = ["group", "passwd"];
    const again = diyc(root, ["run", "keep", "busybox", "sh", "-c", "cat /data; ls /etc/group 2>&1 || true"]);
    expect(again.stdout).toStartWith("hello\n");
    expect(again.stdout).toContain("No such file");
    expect(readdirSync(join(busyboxRoot, "etc")).sort()).toEqual(imageFiles);
    expect(existsSync(join(busyboxRoot, "data"))).toBe(false);
    expect(diyc(root, ["rm", "keep"]).code).toBe(0);
    expect(existsSync(join(root, "containers/keep"))).toBe(false);
    const fresh = diyc(root, ["run", "--rm", "keep", "busybox", "sh", "-c", "cat /data 2>&1 || true"]);
    expect(fresh.stdout).toContain("No such file");
    const unknown = diyc(root, ["rm", "keep"]);
    expect(unknown).toMatchObject({ code: 125, stderr: "diyc: no such container: keep\n" });
  });

  test("a name that is running is refused; diyc run forwards SIGTERM to the container", async () => {
    const first = Bun.spawn([join(import.meta.dir, "../../bin/diyc"), "--root", root, "run", "-v", "--rm", "busy", "busybox", "sh", "-c",
      "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const reader = first.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe("ready\n");
    // The monitor runs from a sealed memfd, never from a file a container could reach.
    expect(helperProcesses().filter((pid) => !helpersBefore.includes(pid)).length).toBe(1);
    const second = diyc(root, ["run", "busy", "busybox", "true"]);
    expect(second).toMatchObject({ code: 125, stderr: "diyc: container busy is already running\n" });
    first.kill("SIGTERM");
    expect(await first.exited).toBe(3);
    const { value: rest } = await reader.read();
    expect(new TextDecoder().decode(rest)).toBe("got-term\n");
    const pids = pidsFromTrace(await new Response(first.stderr).text())!;
    expect(processExists(pids.init)).toBe(false);
    expect(processExists(pids.monitor)).toBe(false);
  });

  test("-v into a pipe that closes early (| head -1) interrupts nothing: the container is made, run and removed", () => {
    const r = Bun.spawnSync(["sh", "-c", `${join(import.meta.dir, "../../bin/diyc")} --root ${root} run -v --rm piped busybox true 2>&1 | head -1`]);
    expect(r.stdout.toString()).toStartWith("HOST| spawn the helper");
    expect(existsSync(join(root, "containers", "piped"))).toBe(false);
    expect(storeCgroups(root)).toEqual([]);
  });

  test("a lone unknown word is an unknown command, not a container", () => {
    expect(diyc(root, ["bogus"])).toMatchObject({ code: 125, stderr: 'diyc: unknown command "bogus"; see diyc --help\n' });
  });

  test("the seed's form: diyc [options] NAME IMAGE CMD", () => {
    const r = diyc(root, ["-v", "--rm", "seedform", "busybox", "hostname"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("seedform\n");
  });
});

describeRoot("-v shows every step as it happens", () => {
  test("HOST| and CONTAINER| lines, in order, ending with exec", () => {
    const r = inside("true", ["-v"]);
    const lines = r.stderr.trim().split("\n");
    const at = (text: string) => {
      const index = lines.findIndex((l) => l.includes(text));
      if (index < 0) throw new Error(`no trace line with ${JSON.stringify(text)}`);
      return index;
    };
    expect(lines[0]).toStartWith("HOST| spawn ");
    expect(at("HOST| clone new namespaces: mount, uts, ipc, pid")).toBeGreaterThan(0);
    expect(at("CONTAINER| mount overlay on")).toBeGreaterThan(at("HOST| release the init"));
    expect(at("CONTAINER| pivot_root")).toBeGreaterThan(at("CONTAINER| mount proc on /proc"));
    expect(at("CONTAINER| capabilities: effective=chown")).toBeGreaterThan(at("CONTAINER| sethostname"));
    expect(at('CONTAINER| exec "sh"')).toBeGreaterThan(at("HOST| start: exec the command"));
  });
});

describeRoot("a failing step names itself and leaves nothing", () => {
  test("a mount that fails inside the root reports the step and errno", () => {
    // /etc/hostname as a directory in the container's layer makes the file bind mount fail.
    expect(diyc(root, ["run", "broken", "busybox", "true"]).code).toBe(0);
    const upper = join(root, "containers/broken/upper/etc/hostname");
    Bun.spawnSync(["rm", "-f", upper]);
    Bun.spawnSync(["mkdir", "-p", upper]);
    writeFileSync(join(upper, "x"), "");
    const r = diyc(root, ["run", "broken", "busybox", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^diyc: mount bind .*\/hostname on \/etc\/hostname: is a directory \(EISDIR\)\n$/);
    expect(diyc(root, ["rm", "broken"]).code).toBe(0);
    expect(statSync(root).isDirectory()).toBe(true);
  });
});

describeRoot("hostile images cannot redirect mounts", () => {
  test("a symlinked /proc in the image stays inside the container", () => {
    const tar = join(root, "evil.tar");
    const src = join(root, "evil-src");
    Bun.spawnSync(["mkdir", "-p", `${src}/bin`, `${src}/etc`, `${src}/tmp`]);
    Bun.spawnSync(["cp", "/bin/busybox", `${src}/bin/busybox`]);
    Bun.spawnSync(["ln", "-s", "busybox", `${src}/bin/sh`]);
    Bun.spawnSync(["ln", "-s", "/../../../../tmp", `${src}/proc`]);
    Bun.spawnSync(["tar", "-C", src, "-cf", tar, "."]);
    expect(diyc(root, ["image", "import", tar, "evil"]).code).toBe(0);
    const r = diyc(root, ["run", "--rm", "evil1", "evil", "/bin/sh", "-c", "/bin/busybox cat /tmp/self/stat"]);
    expect(r.code).toBe(0);
    // The proc mount followed /proc -> /../../tmp inside the container, onto its own /tmp.
    expect(r.stdout).toStartWith("1 (busybox)");
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(" /tmp proc ");
    expect(diyc(root, ["image", "rm", "evil"]).code).toBe(0);
  });
});
