// Detached containers and the everyday commands, on the real kernel:
// run -d, ps, logs, exec, stop, kill, start, rm, inspect; the monitor's log
// rotation and restarts; state after SIGKILLs; volumes; names under contention.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerCgroups, DIYC, diyc, diycEnv, helperProcesses, isRoot, mountsUnder, processExists, psJson, removeStore, tempStore, until } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;

beforeAll(() => {
  root = tempStore("diyc-life-");
});

afterAll(() => {
  removeStore(root); // also proves no cgroup of this store's is left in any hierarchy
});

interface State {
  monitor: { pid: number };
  init: { pid: number };
  restartCount?: number;
}
const state = (name: string): State => JSON.parse(readFileSync(join(root, "containers", name, "state.json"), "utf8"));
const view = (name: string) => psJson(root).find((c) => c.name === name);

describeRoot("a detached container, end to end", () => {
  test("run -d, ps, logs, exec, stop, start, rm", async () => {
    const run = diyc(root, ["run", "-d", "app", "busybox", "sh", "-c",
      "echo started >> /data.txt; trap 'echo bye; exit 3' TERM; i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done"]);
    expect(run).toMatchObject({ code: 0, stdout: "app\n", stderr: "" });

    const running = view("app")!;
    expect(running).toMatchObject({ name: "app", image: "busybox", status: "running", exitCode: null, oomKilled: false, ip: null });
    expect(processExists(running.pid as number)).toBe(true);
    expect(Date.parse(running.startedAt as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(psJson(root, false).map((c) => c.name)).toContain("app");
    expect(diyc(root, ["ps"]).stdout).toMatch(/^NAME\s+IMAGE\s+COMMAND\s+STATUS\s+PORTS\s+PID\s+IP\napp\s+busybox\s+"sh -c .*"\s+Up \d+s\s+\d+/);

    await until(() => diyc(root, ["logs", "app"]).stdout.includes("out 3"));
    const logs = diyc(root, ["logs", "--tail", "2", "app"]);
    expect(logs.stdout).toMatch(/^out \d+\n$/); // one of the two last lines is stdout ...
    expect(logs.stderr).toMatch(/^err \d+\n$/); // ... the other stderr, each on its own stream

    // exec: same namespaces (pid 1 is the container's sh), hostname, cgroup, capabilities; status propagates.
    const exec = diyc(root, ["exec", "-e", "X=1", "app", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; echo $X; grep CapEff /proc/self/status; grep :memory: /proc/self/cgroup || grep ^0:: /proc/self/cgroup; exit 5"]);
    expect(exec.code).toBe(5);
    const [cmdline, hostname, x, capEff, memoryCgroup] = exec.stdout.split("\n");
    expect(cmdline).toStartWith("sh -c echo started");
    expect(hostname).toBe("app");
    expect(x).toBe("1");
    expect(capEff).toBe("CapEff:\t00000000800405fb");
    // The container's own cgroup is its root: the memory hierarchy's on v1, the one v2 line on v2 (test/vm runs this there).
    expect(memoryCgroup).toMatch(/^(\d+:memory:|0::)\/$/);
    expect(diyc(root, ["exec", "app", "grep", "^Seccomp:", "/proc/self/status"]).stdout).toBe("Seccomp:\t2\n");
    expect(diyc(root, ["exec", "app", "no-such-cmd"])).toMatchObject({ code: 127 });

    // stop: SIGTERM reaches the container (its trap runs), cleanup is done when stop returns.
    const { monitor } = state("app");
    const stop = diyc(root, ["stop", "-t", "5", "app"]);
    expect(stop).toMatchObject({ code: 0, stdout: "app\n" });
    expect(view("app")).toMatchObject({ status: "exited", exitCode: 3, pid: null });
    expect(processExists(monitor.pid)).toBe(false);
    expect(containerCgroups(root, "app")).toEqual([]);
    expect(diyc(root, ["logs", "app"]).stdout).toContain("bye\n");

    // start: the same container again, files kept.
    expect(diyc(root, ["start", "app"])).toMatchObject({ code: 0, stdout: "app\n" });
    expect(view("app")!.status).toBe("running");
    expect(diyc(root, ["exec", "app", "cat", "/data.txt"]).stdout).toBe("started\nstarted\n");
    expect(diyc(root, ["start", "app"])).toMatchObject({ code: 125, stderr: "diyc: container app is already running\n" });

    const inspect = JSON.parse(diyc(root, ["inspect", "app"]).stdout)[0];
    expect(inspect.config.spec.process.args[0]).toBe("sh");
    expect(inspect.config.spec.linux.namespaces.map((n: { type: string }) => n.type)).toContain("pid");
    expect(inspect.state.init.pid).toBe(view("app")!.pid);
    expect(inspect.network).toEqual({ mode: "host" });

    expect(diyc(root, ["rm", "app"])).toMatchObject({ code: 125, stderr: "diyc: container app is running; stop it first or use rm -f\n" });
    const { init, monitor: monitor2 } = state("app");
    expect(diyc(root, ["rm", "-f", "app"])).toMatchObject({ code: 0 });
    expect(processExists(init.pid)).toBe(false);
    await until(() => !processExists(monitor2.pid));
    expect(existsSync(join(root, "containers/app"))).toBe(false);
    expect(containerCgroups(root, "app")).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
  });

  test("the monitor stays small: RSS under 1 MiB", () => {
    expect(diyc(root, ["run", "-d", "small", "busybox", "sleep", "30"]).code).toBe(0);
    const status = readFileSync(`/proc/${state("small").monitor.pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    expect(rssKb).toBeLessThan(1024);
    expect(/Name:\s+(\S+)/.exec(status)![1]).toBe("diyc-helper");
    expect(readFileSync(`/proc/${state("small").monitor.pid}/cmdline`, "utf8")).toBe("diyc-helper\0");
    expect(diyc(root, ["kill", "small"]).code).toBe(0);
  });

  test("unknown names get one line and 125 from every command", () => {
    for (const command of [["stop"], ["kill"], ["start"], ["logs"], ["inspect"], ["rm"], ["exec"]]) {
      const r = diyc(root, [...command, "ghost", ...(command[0] === "exec" ? ["true"] : [])]);
      expect([command[0], r.code, r.stderr]).toEqual([command[0], 125, "diyc: no such container: ghost\n"]);
    }
  });
});

describeRoot("status from facts", () => {
  test("the container killed with SIGKILL: the monitor records 137 and cleans up", async () => {
    expect(diyc(root, ["run", "-d", "k1", "busybox", "sleep", "60"]).code).toBe(0);
    const { init, monitor } = state("k1");
    process.kill(init.pid, "SIGKILL");
    await until(() => !processExists(monitor.pid));
    expect(view("k1")).toMatchObject({ status: "exited", exitCode: 137 });
    expect(containerCgroups(root, "k1")).toEqual([]);
  });

  test("the monitor killed with SIGKILL: the container dies with it; ps says the monitor was lost; rm cleans up", async () => {
    expect(diyc(root, ["run", "-d", "k2", "busybox", "sleep", "60"]).code).toBe(0);
    const { init, monitor } = state("k2");
    process.kill(monitor.pid, "SIGKILL");
    await until(() => !processExists(monitor.pid) && !processExists(init.pid));
    expect(view("k2")).toMatchObject({ status: "exited", monitorLost: true, pid: null, ip: null });
    expect(diyc(root, ["ps", "-a"]).stdout).toContain("Exited (monitor lost)");
    expect(diyc(root, ["rm", "k2"]).code).toBe(0);
    expect(containerCgroups(root, "k2")).toEqual([]);
  });

  test("a fault in the monitor kills it (it never spins) and its container; ps says the monitor was lost", async () => {
    expect(diyc(root, ["run", "-d", "k4", "busybox", "sleep", "60"]).code).toBe(0);
    const { init, monitor } = state("k4");
    process.kill(monitor.pid, "SIGSEGV");
    await until(() => !processExists(monitor.pid) && !processExists(init.pid));
    expect(view("k4")).toMatchObject({ status: "exited", monitorLost: true });
    expect(diyc(root, ["rm", "k4"]).code).toBe(0);
    expect(containerCgroups(root, "k4")).toEqual([]);
  });

  test("every process gone at once (as after a reboot): exited, never running, and the next command reconciles", async () => {
    expect(diyc(root, ["run", "-d", "k3", "busybox", "sleep", "60"]).code).toBe(0);
    const { init, monitor } = state("k3");
    process.kill(monitor.pid, "SIGKILL");
    process.kill(init.pid, "SIGKILL");
    await until(() => !processExists(init.pid) && !processExists(monitor.pid));
    expect(view("k3")).toMatchObject({ status: "exited", pid: null });
    expect(diyc(root, ["rm", "k3"]).code).toBe(0);
    expect(containerCgroups(root, "k3")).toEqual([]);
  });
});

describeRoot("logs: size bound, rotation, and -f across it", () => {
  test("--log-max-size keeps two bounded files; -f sees every line in order", async () => {
    expect(diyc(root, ["run", "-d", "--log-max-size", "1k", "rot", "busybox", "sh", "-c",
      "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); usleep 2000; done"]).code).toBe(0);
    const follow = Bun.spawn([DIYC, "--root", root, "logs", "-f", "rot"], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    const output = await new Response(follow.stdout).text();
    expect(await follow.exited).toBe(0);
    const lines = output.trim().split("\n");
    const first = Number(lines[0]!.slice(5));
    expect(lines).toEqual(Array.from({ length: 300 - first }, (_, i) => `line-${first + i}`));
    expect(lines.at(-1)).toBe("line-299");
    const log = join(root, "containers/rot/container.log");
    expect(statSync(log).size).toBeLessThanOrEqual(1024);
    expect(statSync(`${log}.1`).size).toBeLessThanOrEqual(1024);
    // What is kept is the end: the last lines, contiguous.
    const kept = diyc(root, ["logs", "rot"]).stdout.trim().split("\n");
    expect(kept.at(-1)).toBe("line-299");
    expect(kept.length).toBeLessThan(300);
    expect(diyc(root, ["logs", "--tail", "3", "rot"]).stdout).toBe("line-297\nline-298\nline-299\n");
  });

  test("a foreground container keeps a log too (its output went to the user as well); start -a adds to it", () => {
    const first = diyc(root, ["run", "fg", "busybox", "sh", "-c", "echo out-1; echo err-1 >&2"]);
    expect(first).toMatchObject({ code: 0, stdout: "out-1\n", stderr: "err-1\n" });
    expect(diyc(root, ["logs", "fg"])).toMatchObject({ code: 0, stdout: "out-1\n", stderr: "err-1\n" });
    // start -a runs it again in the foreground: the earlier output is still there, the new one after it.
    expect(diyc(root, ["start", "-a", "fg"])).toMatchObject({ code: 0, stdout: "out-1\n", stderr: "err-1\n" });
    expect(diyc(root, ["logs", "fg"])).toMatchObject({ code: 0, stdout: "out-1\nout-1\n", stderr: "err-1\nerr-1\n" });
    expect(diyc(root, ["rm", "fg"]).code).toBe(0);
  });
});

describeRoot("volumes and tmpfs", () => {
  test("--volume binds a host directory, :ro refuses writes, --tmpfs mounts a tmpfs", () => {
    const host = join(root, "vol");
    mkdirSync(host);
    writeFileSync(join(host, "in.txt"), "from-host\n");
    const r = diyc(root, ["run", "--rm", "--volume", `${host}:/data`, "--volume", `${host}:/ro:ro`, "--tmpfs", "/scratch:size=1m",
      "vols", "busybox", "sh", "-c",
      "cat /data/in.txt; echo from-container > /data/out.txt; echo x > /ro/x 2>&1 || echo ro-refused; grep ' /scratch ' /proc/mounts"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("from-host\n");
    expect(r.stdout).toContain("ro-refused");
    expect(r.stdout).toMatch(/tmpfs \/scratch tmpfs rw,nosuid,nodev,relatime,size=1024k/);
    expect(readFileSync(join(host, "out.txt"), "utf8")).toBe("from-container\n");
    expect(existsSync(join(host, "x"))).toBe(false);
    expect(diyc(root, ["run", "--rm", "--volume", "/no/such/dir:/x", "v2", "busybox", "true"])).toMatchObject({ code: 125 });
    expect(diyc(root, ["run", "--rm", "--volume", `${host}:relative`, "v2", "busybox", "true"])).toMatchObject({ code: 125 });
    rmSync(host, { recursive: true });
  });
});

describeRoot("restart policies, done by the monitor", () => {
  test("on-failure:2 restarts twice with backoff, then stays exited", async () => {
    const host = join(root, "restarts");
    mkdirSync(host);
    expect(diyc(root, ["run", "-d", "--restart", "on-failure:2", "--volume", `${host}:/count`, "flaky", "busybox", "sh", "-c", "echo run >> /count/runs; exit 1"]).code).toBe(0);
    await until(() => readFileSync(join(host, "runs"), "utf8").split("\n").length >= 4, 10_000);
    await until(() => view("flaky")?.status === "exited" && helperProcesses().every((p) => p !== state("flaky").monitor.pid), 10_000);
    await Bun.sleep(1000); // a third restart would come within 400 ms
    expect(readFileSync(join(host, "runs"), "utf8")).toBe("run\nrun\nrun\n");
    expect(view("flaky")).toMatchObject({ status: "exited", exitCode: 1, restartCount: 2 });
    rmSync(host, { recursive: true });
  });

  test("always restarts until stop", async () => {
    expect(diyc(root, ["run", "-d", "--restart", "always", "loop", "busybox", "sh", "-c", "sleep 0.2; exit 0"]).code).toBe(0);
    await until(() => (view("loop")?.restartCount as number) >= 2, 10_000);
    expect(diyc(root, ["stop", "-t", "1", "loop"]).code).toBe(0);
    await Bun.sleep(1500);
    expect(view("loop")!.status).toBe("exited");
  });

  test("stop during the backoff between two runs ends the cycle too", async () => {
    expect(diyc(root, ["run", "-d", "--restart", "always", "crashy", "busybox", "sh", "-c", "exit 1"]).code).toBe(0);
    await until(() => (view("crashy")?.restartCount as number) >= 2, 10_000);
    expect(diyc(root, ["stop", "-t", "1", "crashy"]).code).toBe(0);
    const count = view("crashy")!.restartCount;
    await Bun.sleep(2500); // longer than the backoff at this count
    expect(view("crashy")).toMatchObject({ status: "exited", restartCount: count });
  });

  test("bad policies are refused", () => {
    expect(diyc(root, ["run", "-d", "--restart", "sometimes", "x", "busybox", "true"])).toMatchObject({ code: 125 });
    expect(diyc(root, ["run", "--restart", "always", "x", "busybox", "true"])).toMatchObject({ code: 125 });
  });
});

describeRoot("names under contention", () => {
  test("two runs of one name at once: exactly one wins, the other gets a clear error", async () => {
    const start = () => Bun.spawn([DIYC, "--root", root, "run", "-d", "dup", "busybox", "sleep", "30"], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    const [a, b] = [start(), start()];
    const codes = [await a.exited, await b.exited].sort();
    expect(codes).toEqual([0, 125]);
    const errors = (await new Response(a.stderr).text()) + (await new Response(b.stderr).text());
    expect(errors).toBe("diyc: container dup is already running\n");
    expect(diyc(root, ["rm", "-f", "dup"]).code).toBe(0);
  });
});

describeRoot("terminals (-t) and --init", () => {
  /**
   * Runs a diyc command under a pty of `script`'s, as from a terminal of 40
   * rows and 100 columns. script's stdin is a pipe held open until the command
   * ends: at EOF on its stdin script types the EOF character into the
   * terminal, and if that lands before diyc switches the terminal to raw mode
   * the line discipline keeps it as a NUL, which the container's terminal
   * then echoes as "^@" into the output.
   */
  async function underTerminal(command: string): Promise<string> {
    const child = Bun.spawn(["script", "-qec", `stty rows 40 cols 100; ${DIYC} --root ${root} ${command}`, "/dev/null"], { stdin: "pipe", stdout: "pipe" });
    const output = await new Response(child.stdout).text();
    await child.exited;
    child.stdin.end();
    return output.replace(/\r/g, "");
  }

  test("run -t: a pty from the container's devpts, the window size passed on, TERM set", async () => {
    const out = await underTerminal(`run --rm -t tty1 busybox sh -c 'tty; stty size; echo $TERM; ls -1 /dev/pts'`);
    expect(out).toContain("/dev/pts/0\n40 100\nxterm\n0\nptmx\n");
  });

  test("exec -t gets a terminal too", async () => {
    expect(diyc(root, ["run", "-d", "tty2", "busybox", "sleep", "30"]).code).toBe(0);
    const out = await underTerminal("exec -t tty2 sh -c 'tty; stty size'");
    expect(out).toMatch(/\/dev\/pts\/\d+\n40 100\n/);
    expect(diyc(root, ["exec", "tty2", "tty"]).stdout).toBe("not a tty\n");
    expect(diyc(root, ["rm", "-f", "tty2"]).code).toBe(0);
  });

  test("-dt: the terminal's output goes to the log", async () => {
    expect(diyc(root, ["run", "-d", "-t", "tty3", "busybox", "sh", "-c", "tty; echo done"]).code).toBe(0);
    await until(() => view("tty3")?.status === "exited");
    expect(diyc(root, ["logs", "tty3"]).stdout.replace(/\r/g, "")).toBe("/dev/pts/0\ndone\n");
  });

  test("--init: the reaper holds only the container's stdio, so `run -v -d --init … | cat` ends with diyc", async () => {
    expect(diyc(root, ["run", "--rm", "--init", "init3", "busybox", "ls", "/proc/1/fd"])).toMatchObject({ code: 0, stdout: "0\n1\n2\n" });
    // The -v trace is diyc's stderr: a reaper that kept it would hold this pipe open for the container's 30 s.
    const run = Bun.spawn([DIYC, "--root", root, "run", "-v", "-d", "--init", "init4", "busybox", "sleep", "30"], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    const traced = Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
    expect(await run.exited).toBe(0);
    const closed = await Promise.race([traced.then(() => true), Bun.sleep(5000).then(() => false)]);
    expect(closed).toBe(true);
    expect(diyc(root, ["rm", "-f", "init4"]).code).toBe(0);
  });

  test("--init: pid 1 is a reaper; stop is quick because SIGTERM reaches the command", () => {
    const r = diyc(root, ["run", "--rm", "--init", "init1", "busybox", "sh", "-c", "cat /proc/1/comm; echo $$; exit 6"]);
    expect(r).toMatchObject({ code: 6, stdout: "diyc-helper\n2\n" });
    expect(diyc(root, ["run", "-d", "--init", "init2", "busybox", "sleep", "60"]).code).toBe(0);
    const started = Date.now();
    expect(diyc(root, ["stop", "init2"]).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000); // well under stop's 10 s timeout
    expect(view("init2")).toMatchObject({ status: "exited", exitCode: 143 });
  });
});
