// nsexec, the seed's tool, on the real kernel.

import { describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync } from "node:fs";
import { helperProcesses, isRoot, nsexec } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

describeRoot("nsexec", () => {
  test("-npu: pid 1, only lo, the hostname; the host keeps its own", () => {
    const before = helperProcesses();
    const hostHostname = readFileSync("/proc/sys/kernel/hostname", "utf8");
    const r = nsexec(["-npu", "myhost", "sh", "-c", "echo $$; hostname; ls /sys/class/net 2>/dev/null | wc -l; ip -o link 2>/dev/null | wc -l || true; ps -e | wc -l"]);
    expect(r.code).toBe(0);
    const [pid, hostname, , links] = r.stdout.split("\n");
    expect(pid).toBe("1");
    expect(hostname).toBe("myhost");
    expect(links).toBe("1"); // ip -o link: lo alone (/sys/class/net is still the host's sysfs)
    expect(readFileSync("/proc/sys/kernel/hostname", "utf8")).toBe(hostHostname);
    expect(helperProcesses().filter((p) => !before.includes(p))).toEqual([]);
  });

  test("-n leaves only the loopback interface", () => {
    const r = nsexec(["-n", "cat", "/proc/net/dev"]);
    const interfaces = r.stdout.split("\n").slice(2).filter(Boolean).map((l) => l.trim().split(":")[0]);
    expect(interfaces).toEqual(["lo"]);
  });

  test("-p remounts /proc: only the new pid namespace's processes", () => {
    const r = nsexec(["-p", "sh", "-c", "ls /proc | grep -cE '^[0-9]+$'"]);
    expect(r.code).toBe(0);
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(1);
    expect(Number(r.stdout.trim())).toBeLessThanOrEqual(3);
  });

  test("-U maps the caller to root in a new user namespace; -i and -C give new ipc and cgroup namespaces", () => {
    const own = (ns: string) => readlinkSync(`/proc/self/ns/${ns}`);
    const r = nsexec(["-U", "-i", "-C", "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/ipc; readlink /proc/self/ns/cgroup; readlink /proc/self/ns/user"]);
    const [map, ipc, cgroup, user] = r.stdout.trim().split("\n");
    expect(map!.trim().split(/\s+/)).toEqual(["0", String(process.getuid!()), "1"]);
    expect(ipc).not.toBe(own("ipc"));
    expect(cgroup).not.toBe(own("cgroup"));
    expect(user).not.toBe(own("user"));
  });

  test("mounts made inside stay inside (private propagation)", () => {
    const r = nsexec(["-p", "sh", "-c", "grep -c ' /proc proc ' /proc/mounts"]);
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(1);
    const hostProcMounts = readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => / \/proc proc /.test(l));
    expect(hostProcMounts.length).toBe(1);
  });

  test("exit status propagates; a missing command is 127; bad input is 125 with one line", () => {
    expect(nsexec(["sh", "-c", "exit 9"]).code).toBe(9);
    expect(nsexec(["no-such-command-x"])).toMatchObject({ code: 127, stderr: 'nsexec: exec "no-such-command-x": executable file not found in $PATH\n' });
    expect(nsexec([])).toMatchObject({ code: 125, stderr: "nsexec: nsexec needs a command; see nsexec -h\n" });
    expect(nsexec(["-u", "bad host", "true"]).code).toBe(125);
    expect(nsexec(["-Z", "true"])).toMatchObject({ code: 125, stderr: "nsexec: unknown option -Z\n" });
  });

  test("-v traces each step", () => {
    const r = nsexec(["-v", "-pu", "h1", "true"]);
    expect(r.stderr).toContain("CONTAINER| mount proc on /proc");
    expect(r.stderr).toContain("CONTAINER| sethostname h1");
    expect(r.stderr).toContain('CONTAINER| exec "true"');
  });
});
