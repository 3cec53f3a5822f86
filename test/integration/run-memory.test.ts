// A foreground `diyc run` that waits costs at most 2 MiB: once the container
// has run past a short grace, the process the user started is diyc-wait
// (native/wait.c, src/runtime/hand-off.ts), not Bun. Everything else is as it
// was: the exit status, the signals passed on (SIGTERM, the third Ctrl-C),
// --rm, the OOM line, -v's trace, and -t through a real pty.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diycEnv, isRoot, processExists, removeStore, REPO, tempStore } from "../helpers/diyc";
import { until } from "../helpers/traced-runs";
import { SESSION } from "../helpers/terminal";

const describeRoot = isRoot ? describe : describe.skip;
/** The bound: a waiting foreground run at ≤ 2 MiB resident. */
const MAX_RSS_KB = 2048;

let root: string;
beforeAll(() => {
  root = tempStore("diyc-mem-");
});
afterAll(() => {
  // No diyc-wait of this store's runs outlives them (whatever failed); then no mount, cgroup or directory.
  expect([...parentsOfAll().keys()].filter((pid) => exe(pid).startsWith("/memfd:diyc-wait") && cmdline(pid).includes(root))).toEqual([]);
  removeStore(root);
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

function exe(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "";
  }
}

/** VmRSS of `pid`, in kB, read from /proc. */
function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** Waits until `pid` (the diyc the test started) has handed its wait to diyc-wait; returns its RSS then. */
async function waitingRss(pid: number): Promise<number> {
  await until(() => exe(pid).startsWith("/memfd:diyc-wait"), 5000, `pid ${pid} to become diyc-wait`);
  return rssKb(pid);
}

/** The same, checked against the bound; returns the container's monitor and init, for nothingLeft. */
async function handedOff(pid: number, name: string): Promise<number[]> {
  const rss = await waitingRss(pid);
  console.log(`${name}: the waiting diyc's VmRSS is ${rss} kB`);
  expect(rss).toBeLessThanOrEqual(MAX_RSS_KB);
  return containerPids(name);
}

/** The monitor's and the init's pids, from state.json, while the container runs. */
function containerPids(name: string): number[] {
  const state = JSON.parse(readFileSync(join(root, "containers", name, "state.json"), "utf8"));
  return [state.monitor.pid, state.init.pid];
}

/** Nothing of the run is left: no process of it, no container directory (--rm); removeStore checks mounts and cgroups. */
async function nothingLeft(name: string, pids: number[], removed = true): Promise<void> {
  // The monitor exits once it has DONE, which `diyc _finish` sent just before its own exit.
  await until(() => !pids.some(processExists), 5000, "the monitor and the init to end");
  expect(existsSync(join(root, "containers", name))).toBe(!removed);
}

function spawnRun(args: string[]) {
  return Bun.spawn([DIYC, "--root", root, "run", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
}

describeRoot("a foreground run that waits", () => {
  test("is diyc-wait at ≤ 2 MiB, in the same pid; exits with the container's status; --rm removes it", async () => {
    const run = spawnRun(["--rm", "waits", "busybox", "sh", "-c", "echo ready; sleep 1; exit 7"]);
    try {
      // The pid the test spawned, read from /proc once it waits.
      const pids = await handedOff(run.pid, "waits");
      expect(await run.exited).toBe(7);
      expect(await new Response(run.stdout).text()).toBe("ready\n");
      expect(await new Response(run.stderr).text()).toBe("");
      await nothingLeft("waits", pids);
    } finally {
      run.kill("SIGKILL");
    }
  });

  test("SIGTERM to diyc's pid reaches the container; the third SIGINT kills it (137)", async () => {
    const trapped = spawnRun(["--rm", "trapped", "busybox", "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done"]);
    const stubborn = spawnRun(["--rm", "stubborn", "busybox", "sleep", "30"]);
    try {
      const trappedPids = await handedOff(trapped.pid, "trapped");
      trapped.kill("SIGTERM");
      expect(await trapped.exited).toBe(3);
      expect(await new Response(trapped.stdout).text()).toBe("ready\ngot-term\n");
      await nothingLeft("trapped", trappedPids);

      // sleep as pid 1 has no handler for SIGINT: two pass by, the third kills (not in a terminal's foreground, each is forwarded).
      const stubbornPids = await handedOff(stubborn.pid, "stubborn");
      // One at a time: two of the same signal that arrive together are one (standard signals do not queue).
      for (let k = 0; k < 2; k++) {
        stubborn.kill("SIGINT");
        await Bun.sleep(100);
      }
      expect(processExists(stubbornPids[1]!)).toBe(true);
      stubborn.kill("SIGINT");
      expect(await stubborn.exited).toBe(137);
      await nothingLeft("stubborn", stubbornPids);
    } finally {
      trapped.kill("SIGKILL");
      stubborn.kill("SIGKILL");
    }
  });

  test("a SIGTERM at any moment around the hand-off reaches the container: never lost, never the death of diyc", async () => {
    // The hand-off comes 50 ms after the start; the signals land from 20 to 80 ms after it, spread evenly.
    const receivers = new Set<string>();
    for (let k = 0; k < 10; k++) {
      const run = spawnRun(["--rm", `around${k}`, "busybox", "sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.01; done"]);
      try {
        await run.stdout.getReader().read(); // "ready": the command runs
        await Bun.sleep(20 + k * 6);
        receivers.add(exe(run.pid).startsWith("/memfd:diyc-wait") ? "diyc-wait" : exe(run.pid));
        run.kill("SIGTERM");
        // A lost signal would leave it running (-1 here); a diyc killed by it would exit 143.
        expect(await Promise.race([run.exited, Bun.sleep(3000).then(() => -1)])).toBe(3);
      } finally {
        run.kill("SIGKILL");
        await run.exited;
      }
      await until(() => !existsSync(join(root, "containers", `around${k}`)), 5000, "the --rm removal");
    }
    // Signals landed on both sides of the hand-off: Bun's and diyc-wait's.
    expect([...receivers].sort()).toEqual([join(REPO, "build/diyc"), "diyc-wait"].sort());
  });

  test("-v still traces every step, the hand-off and the exit included", async () => {
    // Without a seccomp filter: -v reads the filter's refusals from the kernel's log in Bun, and then Bun waits on.
    const run = spawnRun(["-v", "--rm", "--security-opt", "seccomp=unconfined", "traced", "busybox", "sh", "-c", "sleep 0.5; exit 2"]);
    try {
      const pids = await handedOff(run.pid, "traced");
      expect(await run.exited).toBe(2);
      const trace = await new Response(run.stderr).text();
      const steps = trace.split("\n").filter((line) => line.startsWith("HOST| "));
      const handOff = steps.findIndex((line) => line.includes("hand the wait to diyc-wait"));
      expect(handOff).toBeGreaterThan(steps.indexOf("HOST| start: exec the command"));
      expect(steps[handOff + 1]).toBe("HOST| the init exited (wait status 512)");
      expect(steps.at(-1)).toBe("HOST| remove container traced (--rm)");
      await nothingLeft("traced", pids);
    } finally {
      run.kill("SIGKILL");
    }
  });

  test("-v with the seccomp filter: Bun waits itself (it reads the kernel's log), as before", async () => {
    const run = spawnRun(["-v", "--rm", "filtered", "busybox", "sh", "-c", "sleep 1"]);
    try {
      // Started (state.json has the start time), and well past the grace: still Bun.
      const state = join(root, "containers", "filtered", "state.json");
      await until(() => existsSync(state) && JSON.parse(readFileSync(state, "utf8")).startedAtMs !== undefined, 5000, "the start");
      await Bun.sleep(300);
      expect(exe(run.pid)).toBe(join(REPO, "build/diyc"));
      const pids = containerPids("filtered");
      expect(await run.exited).toBe(0);
      await nothingLeft("filtered", pids);
      const trace = await new Response(run.stderr).text();
      expect(trace).not.toContain("diyc-wait");
      expect(trace).toContain("HOST| the init exited (wait status 0)");
    } finally {
      run.kill("SIGKILL");
    }
  });

  test("an OOM kill after the hand-off: the same one line, 137", async () => {
    const run = spawnRun(["--rm", "-m", "16", "hog", "busybox", "sh", "-c", "sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1"]);
    try {
      const pids = await handedOff(run.pid, "hog");
      expect(await run.exited).toBe(137);
      expect(await new Response(run.stderr).text()).toBe("diyc: container hog was killed: out of memory (limit 16 MiB)\n");
      await nothingLeft("hog", pids);
    } finally {
      run.kill("SIGKILL");
    }
  });

  test("diyc start -a hands off too", async () => {
    const first = spawnRun(["again", "busybox", "sh", "-c", "sleep 0.3; exit 5"]);
    expect(await first.exited).toBe(5);
    const start = Bun.spawn([DIYC, "--root", root, "start", "-a", "again"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    try {
      const pids = await handedOff(start.pid, "again");
      expect(await start.exited).toBe(5);
      expect(await new Response(start.stderr).text()).toBe("");
      await nothingLeft("again", pids, false);
    } finally {
      start.kill("SIGKILL");
      Bun.spawnSync([DIYC, "--root", root, "rm", "-f", "again"], { env: diycEnv(root) });
    }
  });

  test("-t through a pty: the wait is handed off, the terminal relay, resizes and the exit status go on", async () => {
    // The session runs diyc as its child on a new pty; the test finds that child to read its RSS.
    const steps = ["wait:# ", "pause:1", "resize:20:90", "send:stty size\\n", "wait:20 90", "send:exit 4\\n"];
    const session = Bun.spawn(["python3", SESSION, "30", "100", ...steps, "--", DIYC, "--root", root, "run", "--rm", "-it", "tty", "busybox", "sh"],
      { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    try {
      let diycPid = 0;
      await until(() => (diycPid = diycUnder(session.pid)) > 0, 5000, "diyc to start on the pty");
      const pids = await handedOff(diycPid, "tty");
      expect(await session.exited).toBe(0);
      const out = await new Response(session.stdout).text();
      expect(out).toContain("\n20 90\n");
      expect(out).toEndWith("\nEXIT=4\n");
      await nothingLeft("tty", pids);
    } finally {
      session.kill("SIGKILL");
    }
  }, 30_000);

  test("without -t, at a terminal: Ctrl-C reaches the container through the monitor; the third kills it (137)", async () => {
    // In the terminal's foreground group, the monitor gets each Ctrl-C too: diyc-wait only counts them.
    const steps = ["wait:ready", "pause:0.5", "send:\\x03", "pause:0.3", "send:\\x03", "pause:0.3", "send:\\x03"];
    const session = Bun.spawn(["python3", SESSION, "24", "80", ...steps, "--", DIYC, "--root", root, "run", "--rm", "--name", "ignores",
      "busybox", "sh", "-c", "trap '' INT; echo ready; sleep 100"], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
    try {
      let diycPid = 0;
      await until(() => (diycPid = diycUnder(session.pid)) > 0, 5000, "diyc to start on the pty");
      const pids = await handedOff(diycPid, "ignores");
      expect(await session.exited).toBe(0);
      expect(await new Response(session.stdout).text()).toEndWith("\nEXIT=137\n");
      await nothingLeft("ignores", pids);
    } finally {
      session.kill("SIGKILL");
    }
  }, 30_000);
});

/** The session's descendant that runs build/diyc (python3 may be a shim that runs the real one), or 0. */
function diycUnder(pid: number): number {
  return descendants(pid).find((p) => exe(p) === join(REPO, "build/diyc")) ?? 0;
}

/** Every live process and its parent, from /proc/N/stat. */
function parentsOfAll(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  return parents;
}

/** Every live descendant of `pid`. */
function descendants(pid: number): number[] {
  const parents = parentsOfAll();
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    frontier = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...frontier);
  }
  return found;
}
