// The prepared start (native/front.c, src/runtime/prepared.ts): a `diyc run`
// that diyc recorded is done again without Bun, and does what diyc does. Each
// test runs a command twice: the first run records (it goes through Bun), the
// second replays. strace tells which: a replayed run never executes build/diyc.
// Whatever the front cannot replay as recorded goes back to diyc, which then
// does the run (and reports what is wrong) exactly as without a front.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { DIYC, diyc, diycEnv, helperProcesses, isRoot, processExists, removeStore, REPO, storeCgroups, tempStore, type Result } from "../helpers/diyc";
import { uniqueName, until } from "../helpers/traced-runs";
import { cgroupParentFor } from "../../src/runtime/limits";
import { Store } from "../../src/store/store";

const describeRoot = isRoot ? describe : describe.skip;
const BUN_DIYC = join(REPO, "build/diyc");

let root: string;
let traces: string;
beforeAll(() => {
  root = tempStore("diyc-front-");
  traces = tempStore("diyc-front-traces-");
});
afterAll(() => {
  removeStore(root);
  rmSync(traces, { recursive: true, force: true });
});

interface TracedRun extends Result {
  /** build/diyc (Bun) was executed to do the run: it was not replayed. */
  ranBun: boolean;
  /** build/diyc was executed only to end a replayed run (`diyc _finish`). */
  finishedInBun: boolean;
}

/** `diyc --root ROOT ARGS` under strace, which records what the process executes (build/diyc?). */
function traced(args: string[], env: Record<string, string> = {}): TracedRun {
  const log = join(traces, `${uniqueName("trace")}.log`);
  // Not -f: the process the user started is what matters (it may become build/diyc, whole or for _finish),
  // and strace would otherwise wait for a detached container's monitor.
  const child = Bun.spawnSync(["strace", "-qq", "-e", "trace=execve", "-o", log, DIYC, "--root", root, ...args], {
    stdin: "ignore", env: diycEnv(root, env),
  });
  const trace = readFileSync(log, "utf8");
  rmSync(log);
  const bun = trace.split("\n").filter((line) => line.includes(`execve("${BUN_DIYC}"`));
  const finishes = bun.filter((line) => line.includes('"_finish"'));
  return {
    code: child.exitCode ?? -1, stdout: child.stdout.toString(), stderr: child.stderr.toString(),
    ranBun: bun.length > finishes.length,
    finishedInBun: bun.length > 0 && bun.length === finishes.length,
  };
}

/** What a store holds of a container once it is gone: nothing (no directory, lock, cgroup, process). */
function gone(name: string): void {
  expect(existsSync(join(root, "containers", name))).toBe(false);
  expect(existsSync(join(root, "locks", `${name}.lock`))).toBe(false);
  expect(storeCgroups(root)).toEqual([]);
  expect(helperProcesses().filter((pid) => processBelongs(pid, name))).toEqual([]);
}

/** A helper process (monitor) whose plan names this container's directory. */
function processBelongs(pid: number, name: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`).includes(join(root, "containers", name)));
  } catch {
    return false;
  }
}

/** `diyc _cleanup NAME` processes (a monitor's hook) of this store. */
function hooksOf(name: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv.includes("_cleanup") && argv.includes(name) && argv.includes(root);
    } catch {
      return false;
    }
  });
}

/** Processes running build/diyc-front (the front, or its child before it executes the helper). */
function frontProcesses(): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === join(REPO, "build/diyc-front");
    } catch {
      return false;
    }
  });
}

/** The recipes in the store. */
const recipes = () => (existsSync(join(root, "prepared")) ? readdirSync(join(root, "prepared")) : []);

describeRoot("a prepared start", () => {
  test("run --rm again: replayed without Bun, with the same output, status and clean-up", () => {
    const name = uniqueName("rp");
    // (A "${...}" of the command's own is text in the recipe, not one of its placeholders.)
    const args = ["run", "--rm", "-e", "GREETING=hi there", "-e", "LITERAL=${now}", name, "busybox", "sh", "-c", "echo ${GREETING} $LITERAL; hostname; cat /etc/hosts; id -u; ls /sys/fs/cgroup; exit 3"];
    const first = traced(args);
    expect(first.ranBun).toBe(true);
    expect(first.code).toBe(3);
    expect(first.stdout).toStartWith(`hi there \${now}\n${name}\n`);
    gone(name);
    expect(recipes().length).toBeGreaterThan(0);
    const second = traced(args);
    expect(second).toMatchObject({ ranBun: false, finishedInBun: false, code: 3, stdout: first.stdout, stderr: first.stderr });
    gone(name);
  });

  test("a kept container made by a replay has diyc's files, and diyc knows it", () => {
    const name = uniqueName("rk");
    const args = ["run", name, "busybox", "sh", "-c", "echo kept; exit 5"];
    const first = traced(args);
    expect(first).toMatchObject({ ranBun: true, code: 5, stdout: "kept\n" });
    const dir = join(root, "containers", name);
    const files = (d: string) => readdirSync(d).filter((f) => !f.startsWith("exit.json")).sort();
    const recorded = { files: files(dir), config: readJson(join(dir, "container.json")), state: readJson(join(dir, "state.json")) };
    expect(diyc(root, ["rm", name]).code).toBe(0);
    try {
      replayKept(args, name, dir, recorded, files);
    } finally {
      diyc(root, ["rm", "-f", name]);
    }
    gone(name);
  });

  function replayKept(
    args: string[], name: string, dir: string,
    recorded: { files: string[]; config: Record<string, unknown>; state: Record<string, unknown> }, files: (d: string) => string[],
  ): void {
    const second = traced(args);
    expect(second).toMatchObject({ ranBun: false, code: 5, stdout: "kept\n" });
    const config = readJson(join(dir, "container.json"));
    const state = readJson(join(dir, "state.json"));
    expect(files(dir)).toEqual(recorded.files);
    // The same configuration but for its time; a state of the same shape with this run's pids and times.
    expect({ ...config, createdAtMs: 0 }).toEqual({ ...recorded.config, createdAtMs: 0 });
    expect(config.createdAtMs).toBeGreaterThan(recorded.config.createdAtMs as number);
    expect(Object.keys(state).sort()).toEqual(Object.keys(recorded.state).sort());
    expect(state.startedAtMs).toBeGreaterThanOrEqual(state.createdAtMs as number);
    expect((state.init as { pid: number }).pid).not.toBe((recorded.state.init as { pid: number }).pid);
    // diyc reads it as its own: ps, logs and rm.
    expect(diyc(root, ["ps", "-a"]).stdout).toMatch(new RegExp(`^${name} .*Exited \\(5\\)`, "m"));
    expect(diyc(root, ["logs", name]).stdout).toBe("kept\n");
    expect(diyc(root, ["rm", name]).code).toBe(0);
  }

  test("a long run: recorded through the hand-off, replayed; SIGTERM reaches the container, and the wait costs little", async () => {
    const name = uniqueName("rl");
    const args = ["run", "--rm", name, "busybox", "sh", "-c", "trap 'exit 42' TERM; sleep 1 & wait"];
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
    gone(name);
    const run = Bun.spawn([DIYC, "--root", root, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    // Waiting: its handlers are in place (SIGTERM is caught), so the container has started.
    await until(() => catches(run.pid, 15), 5000, "the front to wait, SIGTERM caught");
    // The process the user started is the front itself, not Bun: 2 MiB at most while it waits.
    expect(readlinkSync(`/proc/${run.pid}/exe`)).toBe(join(REPO, "build/diyc-front"));
    const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${run.pid}/status`, "utf8"))![1]);
    expect(rss).toBeLessThanOrEqual(2048);
    process.kill(run.pid, "SIGTERM");
    expect(await run.exited).toBe(42);
    expect(await new Response(run.stderr).text()).toBe("");
    gone(name);
  });

  test("each thing a recipe was made from, changed, sends the run back to diyc, which records it again", () => {
    const name = uniqueName("ri");
    const args = ["run", "--rm", name, "busybox", "true"];
    expect(traced(args).ranBun).toBe(true);
    expect(traced(args).ranBun).toBe(false);
    // A variable the run reads (the subordinate ids file of --userns=auto): checked by value.
    expect(traced(args, { DIYC_SUBUID: "/etc/subuid" })).toMatchObject({ ranBun: true, code: 0 });
    expect(traced(args, { DIYC_SUBUID: "/etc/subuid" }).ranBun).toBe(false);
    // A variable it does not read changes nothing.
    expect(traced(args, { DIYC_SUBUID: "/etc/subuid", UNRELATED: "x" })).toMatchObject({ ranBun: false, code: 0 });
    // A file the command line names: --env-file's contents.
    const envFile = join(traces, "env");
    writeFileSync(envFile, "A=1\n");
    const withFile = ["run", "--rm", "--env-file", envFile, name, "busybox", "sh", "-c", "echo $A"];
    expect(traced(withFile)).toMatchObject({ ranBun: true, stdout: "1\n" });
    expect(traced(withFile)).toMatchObject({ ranBun: false, stdout: "1\n" });
    writeFileSync(envFile, "A=2\n");
    expect(traced(withFile)).toMatchObject({ ranBun: true, stdout: "2\n" });
    // The image: removed and made again (the built-in image: its layer is another directory now).
    expect(diyc(root, ["image", "rm", "busybox"]).code).toBe(0);
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
    expect(traced(args).ranBun).toBe(false);
    // A recipe that others could have written is not one.
    for (const recipe of recipes()) chmodSync(join(root, "prepared", recipe), 0o666);
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
    gone(name);
  });

  test("-i: stdin reaches the container, replayed or not (a miss hands the whole process to diyc, stdin too)", () => {
    const name = uniqueName("rin");
    const args = ["run", "-i", "--rm", name, "busybox", "cat"];
    const withStdin = (text: string, env: Record<string, string> = {}) => diyc(root, args, { stdin: text, env });
    expect(withStdin("recorded\n")).toMatchObject({ code: 0, stdout: "recorded\n" });
    expect(withStdin("replayed\n")).toMatchObject({ code: 0, stdout: "replayed\n" });
    // A variable the run reads, changed: the front has looked at the recipe, and misses.
    expect(withStdin("missed\n", { DIYC_SUBUID: "/etc/subuid" })).toMatchObject({ code: 0, stdout: "missed\n" });
    gone(name);
  });

  test("recorded while another container of the store ran: the replay still removes the store's parent cgroups", async () => {
    const other = uniqueName("ro");
    const name = uniqueName("rp");
    expect(diyc(root, ["run", "-d", other, "busybox", "sleep", "30"]).code).toBe(0);
    // Recorded now, the release of the shared parent finds it busy (the other container is in it).
    const args = ["run", "--rm", name, "busybox", "true"];
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
    expect(storeCgroups(root).length).toBeGreaterThan(0);
    expect(diyc(root, ["rm", "-f", other]).code).toBe(0);
    await until(() => hooksOf(other).length === 0, 10000, "the other's clean-up");
    expect(storeCgroups(root)).toEqual([]);
    // Replayed alone, its release must try every hierarchy's parent, as a run of diyc would.
    expect(traced(args)).toMatchObject({ ranBun: false, code: 0 });
    gone(name);
  });

  test("a name in use: the front changes nothing, and diyc says why (125)", () => {
    const name = uniqueName("ru");
    const args = ["run", "--rm", name, "busybox", "true"];
    traced(args);
    expect(diyc(root, ["run", "-d", name, "busybox", "sleep", "30"]).code).toBe(0);
    const refused = traced(args);
    expect(refused).toMatchObject({ ranBun: true, code: 125, stderr: `diyc: container ${name} is already running\n` });
    expect(diyc(root, ["ps"]).stdout).toMatch(new RegExp(`^${name} .*Up `, "m"));
    expect(diyc(root, ["rm", "-f", name]).code).toBe(0);
    gone(name);
  });

  test("a step that fails after the helper started (a stale cgroup): undone, and diyc does the run", () => {
    const name = uniqueName("rs");
    const args = ["run", "--rm", name, "busybox", "sh", "-c", "echo done"];
    traced(args);
    // What a container whose diyc and monitor both died leaves: its cgroup, in one hierarchy.
    const stale = join("/sys/fs/cgroup/pids", cgroupParentFor(new Store(root)), name);
    mkdirSync(join(stale, ".."), { recursive: true });
    mkdirSync(stale);
    const again = traced(args);
    expect(again).toMatchObject({ ranBun: true, code: 0, stdout: "done\n", stderr: "" });
    gone(name);
    expect(traced(args)).toMatchObject({ ranBun: false, code: 0, stdout: "done\n" });
    gone(name);
  });

  test("the OOM killer: the front hands the end to diyc, which says so (137)", () => {
    const name = uniqueName("ro");
    // The same command line either runs or is OOM-killed, by the shell's dice: the first
    // run that was not killed is recorded, and a replay that is killed is what is checked.
    const args = ["run", "--rm", "-m", "16", name, "busybox", "sh", "-c", "[ $((RANDOM % 2)) = 0 ] && exit 0; dd if=/dev/zero of=/dev/null bs=64M count=1"];
    let killed: TracedRun | undefined;
    for (let attempt = 0; attempt < 40 && !killed; attempt++) {
      const run = traced(args);
      if (run.finishedInBun && run.code === 137) killed = run;
      gone(name);
    }
    expect(killed?.stderr).toBe(`diyc: container ${name} was killed: out of memory (limit 16 MiB)\n`);
  });

  test("the front killed while it waits: the monitor's clean-up hook removes the container", async () => {
    const name = uniqueName("rx");
    const args = ["run", "--rm", name, "busybox", "sleep", "1"];
    traced(args);
    const run = Bun.spawn([DIYC, "--root", root, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: diycEnv(root) });
    const state = join(root, "containers", name, "state.json");
    await until(() => existsSync(state) && readJson(state).startedAtMs !== undefined, 5000, "the container to start");
    const init = (readJson(state).init as { pid: number }).pid;
    run.kill("SIGKILL");
    expect(await run.exited).not.toBe(0);
    await until(() => !existsSync(join(root, "containers", name)) && !processExists(init), 10000, "the clean-up hook");
    await until(() => storeCgroups(root).length === 0, 5000, "the cgroups to go");
    gone(name);
  });

  // strace injects the fault into the front alone (no -f): the Nth call of a system call
  // fails (the step that made it did not go as recorded), or the front is killed there.
  const FAULTED = ["mkdir", "open", "rename", "unlink", "rmdir", "fork"];

  /** The replay of `args` with the `when`th `syscall` of the front faulted (`inject` is strace's action). */
  function faulted(args: string[], syscall: string, when: number, inject: string): Result {
    const child = Bun.spawnSync(["strace", "-qq", "-o", "/dev/null", "-e", `trace=${syscall}`, "-e", `inject=${syscall}:${inject}:when=${when}`, DIYC, "--root", root, ...args], {
      stdin: "ignore", env: diycEnv(root),
    });
    // strace dies of the signal that killed the front: 128 + N, as a shell says it.
    const code = child.exitCode ?? (child.signalCode ? 128 + osConstants.signals[child.signalCode as NodeJS.Signals] : -1);
    return { code, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
  }

  /** How many times the front makes `syscall` in a replay of `args` (strace -c counts them). */
  function callsIn(args: string[], syscall: string): number {
    const log = join(traces, `${uniqueName("count")}.log`);
    Bun.spawnSync(["strace", "-qq", "-c", "-o", log, "-e", `trace=${syscall}`, DIYC, "--root", root, ...args], { stdin: "ignore", env: diycEnv(root) });
    // "% time  seconds  usecs/call  calls  [errors]  syscall": the fourth field of its line.
    const line = readFileSync(log, "utf8").split("\n").map((l) => l.trim().split(/\s+/)).find((fields) => fields.at(-1) === syscall);
    rmSync(log);
    return Number(line?.[3] ?? 0);
  }

  test("a system call that fails at any step: the run happens once, or says why, and leaves nothing", async () => {
    const name = uniqueName("rf");
    const args = ["run", "--rm", name, "busybox", "sh", "-c", "echo ran"];
    traced(args);
    for (const syscall of FAULTED) {
      const calls = callsIn(args, syscall);
      expect(calls).toBeGreaterThan(0);
      for (let when = 1; when <= calls; when++) {
        // Before the start, the front undoes its steps and diyc does the run; once it waits,
        // diyc _finish ends it. Between the two (the state's start time), diyc would stop
        // with an error and leave the container to its monitor: so does the front.
        const run = faulted(args, syscall, when, "error=EIO");
        if (run.code === 125) {
          expect({ syscall, when, stderr: run.stderr }).toEqual({ syscall, when, stderr: expect.stringMatching(/^diyc: atomic \S+\/state\.json: I\/O error\n$/) });
          await until(() => !existsSync(join(root, "containers", name)), 10000, "the monitor's clean-up");
          await until(() => helperProcesses().every((pid) => !processBelongs(pid, name)), 10000, "the monitor to exit");
          expect(traced(args).code).toBe(0); // and the lock file goes with the next run
        } else expect({ syscall, when, ...run }).toEqual({ syscall, when, code: 0, stdout: "ran\n", stderr: "" });
        // A removal cut short at its last rmdir leaves the container's empty directory: diyc lists it and removes it.
        if (existsSync(join(root, "containers", name))) {
          expect({ syscall, when, listed: diyc(root, ["ps", "-aq"]).stdout.split("\n").includes(name) }).toEqual({ syscall, when, listed: true });
          expect(diyc(root, ["rm", "-f", name]).code).toBe(0);
        }
        // And the next run works (a lock file whose unlink failed goes with it).
        expect(traced(args).code).toBe(0);
        gone(name);
      }
    }
  });

  test("the front killed at any step: what it left is cleaned up by the monitor's hook or the next command", async () => {
    const name = uniqueName("rk");
    const args = ["run", "--rm", name, "busybox", "true"];
    traced(args);
    for (const syscall of ["mkdir", "open", "rename", "rmdir"]) {
      const calls = callsIn(args, syscall);
      for (let when = 1; when <= calls; when++) {
        const run = faulted(args, syscall, when, "signal=KILL");
        expect({ syscall, when, killed: run.code }).toEqual({ syscall, when, killed: 137 });
        // The monitor, if there was one by then, runs the cleanup hook; what is left before that
        // (a half-made directory, the lock file) is the next command's to reconcile.
        // (A monitor holds no file of the container to tell it by: no helper of any container is left, as this file
        // runs alone; nor a child of the front not yet executing the helper.)
        await until(() => helperProcesses().length === 0 && frontProcesses().length === 0 && hooksOf(name).length === 0, 10000, "the monitor's clean-up");
        if (existsSync(join(root, "containers", name))) {
          // (A hook that started just now may remove it first: then rm finds nothing, which is as true.)
          const rm = diyc(root, ["rm", "-f", name]);
          const left = existsSync(join(root, "containers", name)) ? readdirSync(join(root, "containers", name)) : null;
          expect({ syscall, when, left, rm: rm.code === 0 ? rm.stdout : rm.stderr }).toEqual({
            syscall, when, left: null, rm: rm.code === 0 ? `${name}\n` : `diyc: no such container: ${name}\n`,
          });
        }
        // The next run works (and its release takes the lock file a kill left).
        expect(traced(args).code).toBe(0);
        gone(name);
      }
    }
  });

  test("the command cannot be executed (its exec fails, injected): 126 or 127 and one line, as diyc, and the clean-up", () => {
    for (const [error, code] of [["EACCES", 126], ["ENOENT", 127]] as const) {
      const name = uniqueName("re");
      const args = ["run", "--rm", name, "busybox", "/bin/true"];
      traced(args);
      // strace -f fails the init's execve of /bin/true (and nothing else: -P).
      const child = Bun.spawnSync(["strace", "-f", "-qq", "-o", "/dev/null", "-P", "/bin/true", "-e", "trace=execve", "-e", `inject=execve:error=${error}`, DIYC, "--root", root, ...args], {
        stdin: "ignore", env: diycEnv(root),
      });
      const stderr = child.stderr.toString().split("\n").filter((l) => !l.startsWith("strace: ")).join("\n");
      expect({ error, code: child.exitCode, stderr }).toEqual({ error, code, stderr: expect.stringMatching(/^diyc: exec [^\n]*\n$/) });
      gone(name);
      expect(traced(args)).toMatchObject({ ranBun: false, code: 0 });
      gone(name);
    }
  });

  test("-d: replayed, prints the name, and the container runs on under its monitor", async () => {
    const name = uniqueName("rd");
    const args = ["run", "-d", "--rm", name, "busybox", "sh", "-c", "echo hi; sleep 1"];
    for (const replayed of [false, true]) {
      const run = traced(args);
      expect(run).toMatchObject({ ranBun: !replayed, code: 0, stdout: `${name}\n`, stderr: "" });
      expect(diyc(root, ["ps"]).stdout).toMatch(new RegExp(`^${name} .*Up `, "m"));
      await until(() => diyc(root, ["logs", name]).stdout === "hi\n", 5000, "the container's log");
      // --rm: the monitor's clean-up hook removes it once it exits.
      await until(() => !existsSync(join(root, "containers", name)) && hooksOf(name).length === 0, 10000, "the monitor's clean-up");
      await until(() => storeCgroups(root).length === 0, 5000, "the cgroups to go");
      gone(name);
    }
  });

  test("-v runs are never replayed: the trace is diyc's", () => {
    const name = uniqueName("rv");
    const args = ["run", "-v", "--rm", name, "busybox", "true"];
    for (let time = 0; time < 2; time++) {
      const run = traced(args);
      expect(run).toMatchObject({ ranBun: true, code: 0 });
      expect(run.stderr).toContain("HOST| start: exec the command");
    }
    gone(name);
  });
});

/** Whether `pid` has a handler for `signal` (SigCgt in /proc/PID/status). */
function catches(pid: number, signal: number): boolean {
  const mask = /^SigCgt:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
  return ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}
