// What a docker user types without thinking, checked as they would see it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DIYC, diyc, diycEnv, isRoot, removeStore, tempStore } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;
beforeAll(() => {
  root = tempStore("diyc-habits-");
});
afterAll(() => removeStore(root));

describeRoot("ps", () => {
  test("-q, --filter name/status/id, Go templates, the command as typed", () => {
    expect(diyc(root, ["run", "-d", "web-1", "busybox", "sh", "-c", "echo 'hello world'; sleep 30"]).code).toBe(0);
    expect(diyc(root, ["run", "-d", "web-2", "busybox", "sleep", "30"]).code).toBe(0);
    expect(diyc(root, ["run", "db", "busybox", "true"]).code).toBe(0);
    try {
      expect(diyc(root, ["ps", "-q"]).stdout).toBe("web-1\nweb-2\n");
      expect(diyc(root, ["ps", "-aq"]).stdout).toBe("db\nweb-1\nweb-2\n");
      expect(diyc(root, ["ps", "-q", "--filter", "name=web"]).stdout).toBe("web-1\nweb-2\n");
      expect(diyc(root, ["ps", "-q", "--filter", "status=exited"]).stdout).toBe("db\n"); // a status filter looks at every container
      expect(diyc(root, ["ps", "-q", "-f", "name=web", "-f", "id=web-2"]).stdout).toBe("web-2\n");
      expect(diyc(root, ["ps", "--format", "{{.Names}}\\t{{.State}}"]).stdout).toBe("web-1\trunning\nweb-2\trunning\n");
      const json = diyc(root, ["ps", "-a", "--filter", "name=db", "--format", "{{json .}}"]).stdout;
      expect(JSON.parse(json)).toMatchObject({ Names: "db", State: "exited", Status: expect.stringMatching(/^Exited \(0\)/) });
      const table = diyc(root, ["ps", "--format", "table {{.Names}}\\t{{.Command}}"]).stdout.split("\n");
      expect(table[0]).toMatch(/^NAMES +COMMAND$/);
      expect(table[1]).toBe("web-1   sh -c 'echo '\\''hello world'\\''; sleep 30'");
      // The default table: the command quoted once, as typed, not JSON-escaped.
      const line = diyc(root, ["ps"]).stdout.split("\n").find((l) => l.startsWith("web-2"))!;
      expect(line).toContain('"sleep 30"');
      expect(diyc(root, ["ps"]).stdout.split("\n")[0]).toMatch(/^NAME +IMAGE +COMMAND +STATUS +PORTS +PID +IP$/);
      // Bad input: one line, 125.
      expect(diyc(root, ["ps", "--format", "{{.Nope}}"])).toMatchObject({ code: 125, stdout: "" });
      expect(diyc(root, ["ps", "--filter", "colour=red"]).stderr).toBe('diyc: unknown --filter "colour": use name, id or status\n');
    } finally {
      expect(diyc(root, ["rm", "-f", "web-1", "web-2", "db"]).code).toBe(0);
    }
  });
});

describeRoot("files inside the container", () => {
  test("/etc/resolv.conf and /etc/hosts are 0644, whatever the host file's mode", () => {
    const r = diyc(root, ["run", "--rm", "modes", "busybox", "stat", "-c", "%a %n", "/etc/resolv.conf", "/etc/hosts"]);
    expect(r.stdout).toBe("644 /etc/resolv.conf\n644 /etc/hosts\n");
  });
});

describeRoot("volumes", () => {
  test("a volume on /etc/hostname, /etc/hosts or /etc/resolv.conf replaces diyc's file, however the path is spelt", () => {
    const dir = tempStore("diyc-etcvol-");
    Bun.spawnSync(["sh", "-c", `echo my-hostname-file > ${dir}/hostname; echo '10.9.9.9 special' > ${dir}/hosts`]);
    try {
      const r = diyc(root, ["run", "--rm", "--volume", `${dir}/hostname:/etc/hostname`, "--volume", `${dir}/hosts:/etc//hosts/:ro`, "etcvol", "busybox", "cat", "/etc/hostname", "/etc/hosts"]);
      expect(r).toMatchObject({ code: 0, stdout: "my-hostname-file\n10.9.9.9 special\n", stderr: "" });
    } finally {
      Bun.spawnSync(["rm", "-rf", dir]);
    }
  });

  test("/proc, /sys, /dev and paths inside them are refused, one line, 125, nothing made", () => {
    for (const target of ["/proc", "/sys/kernel", "/dev/", "/dev/sda", "//proc"]) {
      const r = diyc(root, ["run", "--rm", "--volume", `/tmp:${target}`, "sysvol", "busybox", "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^diyc: invalid --volume target .* belongs to the kernel; mount somewhere else\n$/);
    }
    expect(diyc(root, ["ps", "-aq"]).stdout).toBe("");
  });
});

describeRoot("names and versions", () => {
  test("a name that is no valid hostname runs, with a sanitised hostname", () => {
    expect(diyc(root, ["run", "--rm", "my_c", "busybox", "hostname"])).toMatchObject({ code: 0, stdout: "my-c\n", stderr: "" });
    const long = "n".repeat(64);
    expect(diyc(root, ["run", "--rm", long, "busybox", "hostname"])).toMatchObject({ code: 0, stdout: `${"n".repeat(63)}\n` });
  });

  test("--version prints the version and exits 0", () => {
    const r = diyc(root, ["--version"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^diyc version \d+\.\d+\.\d+\n$/);
  });
});

describeRoot("logs", () => {
  test("-t stamps each line with the time it was read; --since keeps what came later", async () => {
    expect(diyc(root, ["run", "-d", "stamped", "busybox", "sh", "-c", "echo early; sleep 1.5; echo late; echo err >&2"]).code).toBe(0);
    try {
      await Bun.sleep(3000);
      const t = diyc(root, ["logs", "-t", "stamped"]);
      const lines = t.stdout.trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z early$/);
      expect(t.stderr).toMatch(/^\S+Z err\n$/);
      const early = Date.parse(lines[0]!.split(" ")[0]!), late = Date.parse(lines[1]!.split(" ")[0]!);
      expect(late - early).toBeGreaterThanOrEqual(1000);
      // --since between the two: only the later output. Relative forms work too.
      const between = new Date(early + 700).toISOString();
      expect(diyc(root, ["logs", "--since", between, "stamped"]).stdout).toBe("late\n");
      expect(diyc(root, ["logs", "--since", String((early + 700) / 1000), "stamped"]).stdout).toBe("late\n");
      expect(diyc(root, ["logs", "--since", "1h", "stamped"]).stdout).toBe("early\nlate\n");
      expect(diyc(root, ["logs", "--since", "yesterday-ish", "stamped"])).toMatchObject({ code: 125, stdout: "" });
    } finally {
      expect(diyc(root, ["rm", "-f", "stamped"]).code).toBe(0);
    }
  });
});

describeRoot("run: names, forms, stdin, environment", () => {
  test("--name NAME IMAGE CMD, IMAGE CMD with a generated name, and the seed's NAME IMAGE CMD", () => {
    expect(diyc(root, ["run", "--rm", "--name", "named", "busybox", "hostname"]).stdout).toBe("named\n");
    expect(diyc(root, ["run", "--rm", "seedform", "busybox", "hostname"]).stdout).toBe("seedform\n");
    const generated = diyc(root, ["run", "-d", "busybox", "sleep", "30"]);
    expect(generated.code).toBe(0);
    const name = generated.stdout.trim();
    try {
      expect(name).toMatch(/^[a-z]+_[a-z]+(_\d+)?$/);
      expect(diyc(root, ["ps", "-q"]).stdout).toBe(`${name}\n`);
    } finally {
      expect(diyc(root, ["rm", "-f", name]).code).toBe(0);
    }
  });

  test("a missing image that is a command gets a hint; -v HOST:CTR gets one too", () => {
    const r = diyc(root, ["run", "--rm", "mybox", "echo", "hi"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe("diyc: no such image: echo (echo looks like a command: the image comes first, as in diyc run NAME busybox echo ...)\n");
    const v = diyc(root, ["run", "--rm", "-v", "/tmp:/data", "volbox", "busybox", "true"]);
    expect(v).toMatchObject({ code: 125, stderr: "diyc: -v is --verbose here (the seed's meaning); for a volume write --volume /tmp:/data\n" });
  });

  test("without -i the command reads nothing: a loop over a list runs once per line", () => {
    const loop = Bun.spawnSync(["sh", "-c", `printf 'a\\nb\\nc\\n' | while read x; do "$DIYC" --root "$ROOT" run --rm loop busybox sh -c "echo got:$x; cat"; done`],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DIYC: DIYC, ROOT: root } });
    expect(loop.stdout.toString()).toBe("got:a\ngot:b\ngot:c\n");
    // With -i it reads the caller's stdin.
    expect(diyc(root, ["run", "--rm", "-i", "withstdin", "busybox", "cat"], { stdin: "piped\n" }).stdout).toBe("piped\n");
  });

  test("-e VAR passes the caller's value through; --env-file; an unset VAR is left out", () => {
    const dir = tempStore("diyc-envfile-");
    try {
      Bun.write(`${dir}/env`, "# a comment\nFROM_FILE=one\n\nPASSED\n");
      const r = diyc(root, ["run", "--rm", "--env-file", `${dir}/env`, "-e", "PASSED", "-e", "UNSET_HERE", "-e", "X=2", "envs", "busybox", "sh", "-c", "echo $FROM_FILE $PASSED $X ${UNSET_HERE-unset}"],
        { env: { PASSED: "through" } });
      expect(r).toMatchObject({ code: 0, stdout: "one through 2 unset\n" });
      expect(diyc(root, ["run", "--rm", "--env-file", `${dir}/missing`, "envs", "busybox", "true"])).toMatchObject({ code: 125 });
    } finally {
      Bun.spawnSync(["rm", "-rf", dir]);
    }
  });
});

describeRoot("exec -u with names", () => {
  test("names from the container's /etc/passwd and /etc/group, including ones the container added", () => {
    expect(diyc(root, ["run", "-d", "--name", "users", "busybox", "sh", "-c", "echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd; echo 'app:x:1234:' >> /etc/group; echo ready; sleep 30"]).code).toBe(0);
    try {
      Bun.sleepSync(300);
      expect(diyc(root, ["exec", "-u", "app", "users", "id", "-u"]).stdout).toBe("1234\n");
      expect(diyc(root, ["exec", "-u", "nobody:app", "users", "sh", "-c", "id -u; id -g"]).stdout).toBe("65534\n1234\n");
      expect(diyc(root, ["exec", "-u", "nosuchuser", "users", "true"])).toMatchObject({ code: 125, stderr: "diyc: unable to find user nosuchuser: no matching entries in the container's /etc/passwd\n" });
    } finally {
      expect(diyc(root, ["rm", "-f", "users"]).code).toBe(0);
    }
  });
});

describeRoot("restarts as docker shows them", () => {
  test("between two runs ps says Restarting (N), and logs -f follows across restarts", async () => {
    // Exits 3 a while after each start: the backoff (0.1 s, 0.2 s, 0.4 s...) is where "Restarting" shows.
    expect(diyc(root, ["run", "-d", "--restart", "on-failure:3", "--name", "phoenix", "busybox", "sh", "-c", "echo run; sleep 0.3; exit 3"]).code).toBe(0);
    const follow = Bun.spawn([DIYC, "--root", root, "logs", "-f", "phoenix"], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    let sawRestarting = false;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !sawRestarting) {
      // docker's status=restarting filter sees it too; running and exited do not.
      const status = diyc(root, ["ps", "--filter", "status=restarting", "--filter", "name=phoenix", "--format", "{{.Status}}|{{.State}}"]).stdout;
      if (/^Restarting \(3\) .*\|restarting\n$/.test(status)) sawRestarting = true;
      else await Bun.sleep(20);
    }
    expect(sawRestarting).toBe(true);
    expect(diyc(root, ["ps", "--filter", "status=paused"])).toMatchObject({ code: 0, stdout: expect.not.stringContaining("phoenix") });
    expect(diyc(root, ["ps", "--filter", "status=asleep"]).stderr).toStartWith("diyc: invalid --filter status=asleep: use one of created, restarting");
    // -f ends only when the last run has exited for good: every run's line is there.
    const output = await new Response(follow.stdout).text();
    expect(await follow.exited).toBe(0);
    expect(output).toBe("run\nrun\nrun\nrun\n");
    expect(diyc(root, ["ps", "-a", "--filter", "name=phoenix", "--format", "{{.State}}"]).stdout).toBe("exited\n");
    expect(diyc(root, ["rm", "phoenix"]).code).toBe(0);
  }, 30_000);
});

describeRoot("exec -d", () => {
  test("returns at once; the process runs on in the container, in its cgroup, reaped by its pid 1", async () => {
    expect(diyc(root, ["run", "-d", "--init", "--name", "bg", "busybox", "sleep", "30"]).code).toBe(0);
    try {
      const r = diyc(root, ["exec", "-d", "bg", "sh", "-c", "sleep 1; echo done > /tmp/marker"]);
      expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
      // It returned before the process finished: the marker is not there yet.
      expect(diyc(root, ["exec", "bg", "cat", "/tmp/marker"]).code).not.toBe(0);
      await Bun.sleep(1500);
      expect(diyc(root, ["exec", "bg", "cat", "/tmp/marker"]).stdout).toBe("done\n");
      expect(diyc(root, ["exec", "-d", "-t", "bg", "true"])).toMatchObject({ code: 125 });
    } finally {
      expect(diyc(root, ["rm", "-f", "bg"]).code).toBe(0);
    }
  });
});

describeRoot("--dns, --dns-search, --add-host, --privileged", () => {
  test("resolv.conf and hosts say what the flags say", () => {
    const r = diyc(root, ["run", "--rm", "--dns", "10.9.9.9", "--dns", "10.9.9.8", "--dns-search", "example.test", "--add-host", "db.internal:10.1.2.3",
      "dnsbox", "busybox", "sh", "-c", "cat /etc/resolv.conf; grep db.internal /etc/hosts"]);
    expect(r).toMatchObject({ code: 0, stdout: "nameserver 10.9.9.9\nnameserver 10.9.9.8\nsearch example.test\n10.1.2.3\tdb.internal\n" });
    expect(diyc(root, ["run", "--rm", "--dns", "not-an-ip", "dnsbad", "busybox", "true"])).toMatchObject({ code: 125 });
    expect(diyc(root, ["run", "--rm", "--add-host", "noip", "hostbad", "busybox", "true"])).toMatchObject({ code: 125 });
  });

  test("--privileged: every capability, no seccomp filter, the host's devices, /sys writable, nothing masked", () => {
    const r = diyc(root, ["run", "--rm", "--privileged", "priv", "busybox", "sh", "-c",
      "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; ls /dev/loop-control >/dev/null 2>&1 && echo host-devices; grep -c ' /sys sysfs rw' /proc/self/mounts; grep -cE ' /proc/(kcore|keys|timer_list) ' /proc/self/mountinfo || true"]);
    // Every capability diyc itself holds (this host withholds CAP_SYS_RESOURCE even from root); /sys
    // mounted read-write once; nothing mounted over the /proc files a plain container has masked.
    const own = /^CapPrm:\s*(\S+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1];
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const lines = r.stdout.trim().split("\n");
    expect(lines.slice(0, 3).sort()).toEqual([`CapEff:\t${own}`, "NoNewPrivs:\t0", "Seccomp:\t0"]);
    expect(lines.slice(3)).toEqual(["host-devices", "1", "0"]);
    // The same count in a plain container proves the probe sees masks.
    const masked = diyc(root, ["run", "--rm", "masked", "busybox", "grep", "-cE", " /proc/(kcore|keys|timer_list) ", "/proc/self/mountinfo"]);
    expect(Number(masked.stdout)).toBeGreaterThan(0);
    // Without it, none of that.
    const plain = diyc(root, ["run", "--rm", "unpriv", "busybox", "sh", "-c", "ls /dev/loop-control 2>/dev/null || echo no-host-devices"]);
    expect(plain.stdout).toBe("no-host-devices\n");
  });
});
