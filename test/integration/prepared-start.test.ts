// The prepared start (native/front.c, src/runtime/prepared.ts): a `diyc run`
// that diyc recorded is done again without Bun, and does what diyc does. Each
// test runs a command twice: the first run records (it goes through Bun), the
// second replays. strace tells which: a replayed run never executes build/diyc.
// Whatever the front cannot replay as recorded goes back to diyc, which then
// does the run (and reports what is wrong) exactly as without a front.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
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

/** `diyc --root ROOT ARGS` under strace, which records every execve of it and its children. */
function traced(args: string[], env: Record<string, string> = {}): TracedRun {
  const log = join(traces, `${uniqueName("trace")}.log`);
  const child = Bun.spawnSync(["strace", "-f", "-qq", "-e", "trace=execve", "-o", log, DIYC, "--root", root, ...args], {
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

/** The recipes in the store. */
const recipes = () => (existsSync(join(root, "prepared")) ? readdirSync(join(root, "prepared")) : []);

describeRoot("a prepared start", () => {
  test("run --rm again: replayed without Bun, with the same output, status and clean-up", () => {
    const name = uniqueName("rp");
    const args = ["run", "--rm", "-e", "GREETING=hi there", name, "busybox", "sh", "-c", "echo $GREETING; hostname; cat /etc/hosts; id -u; ls /sys/fs/cgroup; exit 3"];
    const first = traced(args);
    expect(first.ranBun).toBe(true);
    expect(first.code).toBe(3);
    expect(first.stdout).toStartWith(`hi there\n${name}\n`);
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
    const state = join(root, "containers", name, "state.json");
    await until(() => existsSync(state) && readJson(state).startedAtMs !== undefined, 5000, "the container to start");
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
    // The image: removed and made again (the built-in image: its layer is another directory now).
    expect(diyc(root, ["image", "rm", "busybox"]).code).toBe(0);
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
    expect(traced(args).ranBun).toBe(false);
    // A recipe that others could have written is not one.
    for (const recipe of recipes()) chmodSync(join(root, "prepared", recipe), 0o666);
    expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
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

  test("-v and -d runs are never replayed", () => {
    const name = uniqueName("rv");
    for (const args of [["run", "-v", "--rm", name, "busybox", "true"], ["run", "-d", name, "busybox", "true"]]) {
      for (let time = 0; time < 2; time++) {
        expect(traced(args)).toMatchObject({ ranBun: true, code: 0 });
        if (args.includes("-d")) expect(diyc(root, ["rm", "-f", name]).code).toBe(0);
      }
    }
    expect(recipes().filter((r) => r.includes(".suspended-"))).toEqual([]);
    gone(name);
  });
});

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}
