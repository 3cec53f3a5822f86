// Any process of diyc can die at any moment: the host is clean afterwards and
// every command tells the truth. Each test kills diyc or the monitor at one
// moment of a container's life and checks what is left.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { DIYC, diyc, diycEnv, isRoot, mountsUnder, pidsFromTrace, processExists, psJson, removeStore, storeCgroups, tempStore, until } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;
beforeAll(() => {
  root = tempStore("diyc-crash-");
});
afterAll(() => removeStore(root));

const containerDir = (name: string) => join(root, "containers", name);
const readLink = (path: string) => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined; // gone
  }
};
const containers = () => psJson(root) as { name: string; status: string; exitCode: number | null }[];

/** Starts `diyc run -v ARGS` and SIGKILLs it as soon as its trace shows `line`. Returns the pids it printed. */
async function killRunAt(line: string, args: string[]): Promise<{ init: number; monitor: number }> {
  const run = Bun.spawn([DIYC, "--root", root, "run", "-v", ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: diycEnv(root) });
  let trace = "";
  const reader = run.stderr.getReader();
  const decoder = new TextDecoder();
  while (!trace.includes(line)) {
    const { value, done } = await reader.read();
    if (done) break;
    trace += decoder.decode(value);
  }
  // The kill must land at that moment: a run that ended first would prove nothing.
  if (!trace.includes(line)) throw new Error(`the trace never showed ${JSON.stringify(line)}: ${trace}`);
  run.kill("SIGKILL");
  await run.exited;
  expect(run.signalCode).toBe("SIGKILL");
  const pids = pidsFromTrace(trace);
  if (!pids) throw new Error(`no pids in the trace: ${trace}`);
  return pids;
}

describeRoot("diyc run killed half-way through create", () => {
  test("before the init is released: the monitor kills it and its cleanup hook removes cgroup and container (--rm)", async () => {
    const { init, monitor } = await killRunAt("init is pid", ["--rm", "half", "busybox", "sleep", "30"]);
    await until(() => !processExists(monitor) && !processExists(init));
    await until(() => !existsSync(containerDir("half")));
    expect(storeCgroups(root).flatMap((d) => readdirSync(d).filter((e) => e === "half"))).toEqual([]);
    expect(mountsUnder(containerDir("half"))).toEqual([]);
  });

  test("without --rm: the container is left exited, never running, and rm removes it", async () => {
    const { init, monitor } = await killRunAt("init is pid", ["kept", "busybox", "sleep", "30"]);
    await until(() => !processExists(monitor) && !processExists(init));
    expect(containers().find((c) => c.name === "kept")?.status).toBe("exited");
    expect(diyc(root, ["rm", "kept"]).code).toBe(0);
  });
});

describeRoot("diyc run --rm killed after the exit was delivered", () => {
  test("the monitor still removes the container: it waits for diyc's DONE, not only for the EXIT to be sent", async () => {
    // -v prints "the init exited" once EXIT arrived; diyc dies right after, before its clean-up.
    const { monitor } = await killRunAt("the init exited", ["--rm", "late", "busybox", "true"]);
    await until(() => !processExists(monitor));
    await until(() => !existsSync(containerDir("late")));
    expect(storeCgroups(root).flatMap((d) => readdirSync(d).filter((e) => e === "late"))).toEqual([]);
  });
});

describeRoot("a foreground run killed while diyc-wait waits for it (src/runtime/hand-off.ts)", () => {
  // -v reads seccomp refusals in Bun, which then waits itself: without a filter, the wait is handed off.
  const waits = (name: string, seconds: number) => ["--rm", "--security-opt", "seccomp=unconfined", name, "busybox", "sleep", String(seconds)];
  const cleanedUp = async (name: string, pids: { init: number; monitor: number }) => {
    // The monitor learns that diyc is gone when the init exits: then its cleanup hook removes the container.
    await until(() => !processExists(pids.monitor) && !processExists(pids.init));
    await until(() => !existsSync(containerDir(name)));
    expect(storeCgroups(root).flatMap((d) => readdirSync(d).filter((e) => e === name))).toEqual([]);
    expect(mountsUnder(containerDir(name))).toEqual([]);
  };

  test("killed at the hand-off (Bun or diyc-wait, whichever it is by then): the container is still cleaned up once", async () => {
    await cleanedUp("handing", await killRunAt("hand the wait to diyc-wait", waits("handing", 1)));
  });

  test("killed while diyc-wait waits: the same", async () => {
    const run = Bun.spawn([DIYC, "--root", root, "run", ...waits("waiting", 1)], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: diycEnv(root) });
    await until(() => (readLink(`/proc/${run.pid}/exe`) ?? "").startsWith("/memfd:diyc-wait"));
    const state = JSON.parse(readFileSync(join(containerDir("waiting"), "state.json"), "utf8"));
    run.kill("SIGKILL");
    expect(await run.exited).not.toBe(0);
    await cleanedUp("waiting", { init: state.init.pid, monitor: state.monitor.pid });
  });

  test("killed in `diyc _finish`, after the exit was delivered: the monitor's hook removes it", async () => {
    await cleanedUp("finishing", await killRunAt("the init exited", waits("finishing", 0.3)));
  });
});

describeRoot("detached containers that end at once", () => {
  test("run -d --rm ten in a row: every one is removed", async () => {
    for (let i = 0; i < 10; i++) expect(diyc(root, ["run", "-d", "--rm", `quick${i}`, "busybox", "true"])).toMatchObject({ code: 0, stderr: "" });
    await until(() => Array.from({ length: 10 }, (_, i) => existsSync(containerDir(`quick${i}`))).every((e) => !e), 10_000);
  });

  test("run -d ten in a row: every exit code is known (the start time is taken before START)", async () => {
    for (let i = 0; i < 10; i++) expect(diyc(root, ["run", "-d", `code${i}`, "busybox", "sh", "-c", `exit ${i}`])).toMatchObject({ code: 0, stderr: "" });
    await until(() => containers().filter((c) => c.name.startsWith("code") && c.status === "exited" && c.exitCode !== null).length === 10, 10_000);
    for (let i = 0; i < 10; i++) {
      expect(containers().find((c) => c.name === `code${i}`)?.exitCode).toBe(i);
      expect(diyc(root, ["rm", `code${i}`]).code).toBe(0);
    }
  });
});

describeRoot("a full store keeps the exit status", () => {
  test("the exit record is written into space reserved at create", async () => {
    const small = join(root, "small");
    mkdirSync(small);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4m", "diyc-full-store", small]).exitCode).toBe(0);
    try {
      expect(diyc(small, ["run", "-d", "full", "busybox", "sh", "-c", "sleep 0.5; exit 7"]).code).toBe(0);
      // Fill the store's filesystem to the last byte.
      Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(small, "filler")}`, "bs=64k"], { stderr: "ignore" });
      // Full while the container still runs: its exit record must go into the reserve.
      expect(statfsSync(small).bavail).toBe(0);
      expect((psJson(small)[0] as { status: string }).status).toBe("running");
      await until(() => JSON.parse(diyc(small, ["ps", "-a", "--format", "json"]).stdout)[0]?.status === "exited");
      const record = JSON.parse(readFileSync(join(small, "containers/full/exit.json"), "utf8"));
      expect(record.waitStatus >> 8).toBe(7);
      rmSync(join(small, "filler"));
      expect(diyc(small, ["rm", "full"]).code).toBe(0);
    } finally {
      for (const name of existsSync(join(small, "containers")) ? readdirSync(join(small, "containers")) : []) diyc(small, ["rm", "-f", name]);
      Bun.spawnSync(["umount", small]);
    }
    expect(storeCgroups(small)).toEqual([]);
  });
});
