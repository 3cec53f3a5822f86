// Nothing lost, nothing stale (issue 10), on the real kernel: what a crash
// leaves half-made is repaired or removed by the next command; commands that
// race on one container decide under its lock; commands on several names act
// on every one and tell the truth about each.
//
// Isolation: a store of this file's own, container names "rl-*", no network.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cgroupParentFor } from "../../src/runtime/limits";
import { Store } from "../../src/store/store";
import { containerCgroups, DIYC, diyc, diycEnv, isRoot, mountsUnder, processExists, psJson, removeStore, tempStore } from "../helpers/diyc";
import { diycAs, NOBODY } from "../helpers/rootless";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;

beforeAll(() => {
  root = tempStore("diyc-rl-");
});

afterAll(() => {
  removeStore(root);
});

const view = (name: string) => psJson(root).find((c) => c.name === name);
const containerDir = (name: string) => join(root, "containers", name);
const lockFile = (name: string) => join(root, "locks", `${name}.lock`);
const state = (name: string) => JSON.parse(readFileSync(join(containerDir(name), "state.json"), "utf8")) as { init: { pid: number }; monitor: { pid: number } };

/** Proves that nothing of the container is left: directory, lock file, cgroups. */
function expectGone(name: string): void {
  expect(existsSync(containerDir(name))).toBe(false);
  expect(existsSync(lockFile(name))).toBe(false);
  expect(containerCgroups(root, name)).toEqual([]);
  expect(mountsUnder(containerDir(name))).toEqual([]);
}

describeRoot("after a crash, rm -f removes what is left", () => {
  test("a cgroup made in one hierarchy only (diyc killed between the mkdirs)", () => {
    expect(diyc(root, ["run", "rl-part", "busybox", "/bin/true"]).code).toBe(0);
    const partial = `/sys/fs/cgroup/cpuset/${cgroupParentFor(new Store(root))}/rl-part`;
    mkdirSync(partial, { recursive: true });
    expect(diyc(root, ["rm", "-f", "rl-part"])).toMatchObject({ code: 0, stdout: "rl-part\n", stderr: "" });
    expect(existsSync(partial)).toBe(false);
    expectGone("rl-part");
  });

  test("a cgroup made in every hierarchy but memory: start repairs it and runs", () => {
    expect(diyc(root, ["run", "rl-part2", "busybox", "/bin/true"]).code).toBe(0);
    const parent = cgroupParentFor(new Store(root));
    for (const h of ["cpuset", "cpu", "pids"]) mkdirSync(`/sys/fs/cgroup/${h}/${parent}/rl-part2`, { recursive: true });
    expect(diyc(root, ["start", "-a", "rl-part2"])).toMatchObject({ code: 0, stderr: "" });
    expect(containerCgroups(root, "rl-part2")).toEqual([]);
    expect(diyc(root, ["rm", "rl-part2"]).code).toBe(0);
    expectGone("rl-part2");
  });

  test("directories a killed create left: ps -a lists them, rm -f removes them", () => {
    // What a create killed at three moments leaves: only the overlay
    // directories; those and the /etc files; and a half-written container.json.
    const leftovers: Record<string, string[]> = {
      "rl-half1": ["upper/", "work/"],
      "rl-half2": ["upper/", "work/", "merged/", "hostname", "hosts", "resolv.conf"],
      "rl-half3": ["upper/", "work/", "merged/", "hostname", "container.json.tmp-999999"],
    };
    for (const [name, entries] of Object.entries(leftovers)) {
      for (const entry of entries) {
        const path = join(containerDir(name), entry);
        if (entry.endsWith("/")) mkdirSync(path, { recursive: true });
        else writeFileSync(path, entry.startsWith("container.json") ? '{"name":' : "x\n");
      }
    }
    const listed = psJson(root).filter((c) => String(c.name).startsWith("rl-half"));
    expect(listed.map((c) => [c.name, c.status, c.image])).toEqual([
      ["rl-half1", "exited", null], ["rl-half2", "exited", null], ["rl-half3", "exited", null],
    ]);
    expect(diyc(root, ["ps", "-a"]).stdout).toMatch(/\nrl-half1\s+""\s+Incomplete\n/);
    expect(JSON.parse(diyc(root, ["inspect", "rl-half2"]).stdout)[0]).toMatchObject({ name: "rl-half2", incomplete: true, status: "exited", config: null });
    expect(diyc(root, ["rm", "-f", "rl-half1", "rl-half2", "rl-half3"])).toMatchObject({ code: 0, stdout: "rl-half1\nrl-half2\nrl-half3\n", stderr: "" });
    for (const name of Object.keys(leftovers)) expectGone(name);
  });

  test("a half-made container of a name is repaired by the next run of that name", () => {
    mkdirSync(join(containerDir("rl-half4"), "upper"), { recursive: true });
    writeFileSync(join(containerDir("rl-half4"), "container.json.tmp-999999"), "{");
    expect(diyc(root, ["run", "rl-half4", "busybox", "echo", "ok"])).toMatchObject({ code: 0, stdout: "ok\n" });
    expect(existsSync(join(containerDir("rl-half4"), "container.json.tmp-999999"))).toBe(false);
    expect(view("rl-half4")).toMatchObject({ image: "busybox", status: "exited", exitCode: 0 });
    expect(diyc(root, ["rm", "rl-half4"]).code).toBe(0);
    expectGone("rl-half4");
  });
});

describeRoot("lock files", () => {
  test("rm, rm -f and run --rm leave no lock file behind", () => {
    expect(diyc(root, ["run", "rl-lock1", "busybox", "true"]).code).toBe(0);
    expect(existsSync(lockFile("rl-lock1"))).toBe(true);
    expect(diyc(root, ["rm", "rl-lock1"]).code).toBe(0);
    expectGone("rl-lock1");
    expect(diyc(root, ["run", "--rm", "rl-lock2", "busybox", "true"]).code).toBe(0);
    expectGone("rl-lock2");
    expect(diyc(root, ["run", "-d", "rl-lock3", "busybox", "sleep", "30"]).code).toBe(0);
    expect(diyc(root, ["rm", "-f", "rl-lock3"]).code).toBe(0);
    expectGone("rl-lock3");
    // A create that fails leaves none either.
    expect(diyc(root, ["run", "rl-lock4", "no-such-image", "true"]).code).toBe(125);
    expect(existsSync(lockFile("rl-lock4"))).toBe(false);
    // One a run killed before it claimed its name left (no container): ps and rm remove it.
    writeFileSync(lockFile("rl-lock5"), "");
    expect(diyc(root, ["ps", "-a"]).code).toBe(0);
    expect(existsSync(lockFile("rl-lock5"))).toBe(false);
    writeFileSync(lockFile("rl-lock6"), "");
    expect(diyc(root, ["rm", "-f", "rl-lock6"])).toMatchObject({ code: 125, stderr: "diyc: no such container: rl-lock6\n" });
    expect(existsSync(lockFile("rl-lock6"))).toBe(false);
  });
});

describeRoot("commands on several names act on every one", () => {
  test("rm -f a1 nosuch a2: both removed, one line for nosuch, 125", () => {
    for (const name of ["rl-a1", "rl-a2"]) expect(diyc(root, ["run", "-d", name, "busybox", "sleep", "30"]).code).toBe(0);
    const pids = ["rl-a1", "rl-a2"].map((n) => state(n).init.pid);
    expect(diyc(root, ["rm", "-f", "rl-a1", "rl-nosuch", "rl-a2"])).toEqual({
      code: 125, stdout: "rl-a1\nrl-a2\n", stderr: "diyc: no such container: rl-nosuch\n",
    });
    for (const pid of pids) expect(processExists(pid)).toBe(false);
    expectGone("rl-a1");
    expectGone("rl-a2");
  });

  test("stop nosuch b1 b2 and kill: every running one ends, 125", () => {
    for (const name of ["rl-b1", "rl-b2", "rl-b3", "rl-b4"]) expect(diyc(root, ["run", "-d", name, "busybox", "sleep", "30"]).code).toBe(0);
    expect(diyc(root, ["stop", "-t", "1", "rl-nosuch", "rl-b1", "rl-b2"])).toEqual({
      code: 125, stdout: "rl-b1\nrl-b2\n", stderr: "diyc: no such container: rl-nosuch\n",
    });
    expect([view("rl-b1")?.status, view("rl-b2")?.status]).toEqual(["exited", "exited"]);
    expect(diyc(root, ["kill", "rl-b3", "rl-b1", "rl-b4"])).toEqual({
      code: 125, stdout: "rl-b3\nrl-b4\n", stderr: "diyc: container rl-b1 is not running\n",
    });
    expect(diyc(root, ["start", "rl-b1", "rl-nosuch", "rl-b2"])).toEqual({
      code: 125, stdout: "rl-b1\nrl-b2\n", stderr: "diyc: no such container: rl-nosuch\n",
    });
    expect([view("rl-b1")?.status, view("rl-b2")?.status]).toEqual(["running", "running"]);
    expect(diyc(root, ["rm", "-f", "rl-b1", "rl-b2", "rl-b3", "rl-b4"])).toMatchObject({ code: 0, stderr: "" });
    for (const name of ["rl-b1", "rl-b2", "rl-b3", "rl-b4"]) expectGone(name);
  });
});

describeRoot("start and rm -f of one container at once", () => {
  test("whichever wins, a removed container never runs again", async () => {
    for (let round = 0; round < 30; round++) {
      const name = `rl-race${round}`;
      expect(diyc(root, ["run", name, "busybox", "true"]).code).toBe(0);
      const go = (args: string[]) => Bun.spawn([DIYC, "--root", root, ...args], { stdout: "pipe", stderr: "pipe", env: diycEnv(root) });
      // rm first by a hair in half the rounds, start first in the others.
      const [a, b] = round % 2 === 0 ? [go(["rm", "-f", name]), go(["start", name])] : [go(["start", name]), go(["rm", "-f", name])];
      const [rm, start] = round % 2 === 0 ? [a, b] : [b, a];
      const [rmCode, startCode] = [await rm.exited, await start.exited];
      expect(rmCode).toBe(0);
      // Either start ran first (rm then removed the running container) or it was refused.
      if (startCode !== 0) expect(await new Response(start.stderr).text()).toBe(`diyc: no such container: ${name}\n`);
      const left = existsSync(containerDir(name));
      if (left) diyc(root, ["rm", "-f", name]); // so a failure here leaves nothing running
      expect(left).toBe(false);
      expectGone(name);
    }
  });
});

describeRoot("messages that tell the truth", () => {
  test("a process OOM-killed inside a container that goes on: said so, status 0", () => {
    const r = diyc(root, ["run", "--rm", "-m", "16", "rl-oom1", "busybox", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo survived"]);
    expect(r.stdout).toBe("survived\n");
    expect(r.stderr).toBe("diyc: a process in container rl-oom1 was killed: out of memory (limit 16 MiB)\n");
    expect(r.code).toBe(0);
    expectGone("rl-oom1");
    // The init itself OOM-killed: the container was.
    const killed = diyc(root, ["run", "-m", "16", "rl-oom2", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    expect(killed).toMatchObject({ code: 137, stderr: "diyc: container rl-oom2 was killed: out of memory (limit 16 MiB)\n" });
    expect(view("rl-oom2")).toMatchObject({ exitCode: 137, oomKilled: true });
    expect(diyc(root, ["rm", "rl-oom2"]).code).toBe(0);
    expectGone("rl-oom2");
  });

  test("diyc logs x | head -1: quiet, status 0", async () => {
    expect(diyc(root, ["run", "-d", "rl-logs", "busybox", "seq", "1", "100000"]).code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (view("rl-logs")?.status !== "exited" && Date.now() < deadline) await Bun.sleep(20);
    const p = Bun.spawnSync(["bash", "-c", `${DIYC} --root ${root} logs rl-logs | head -1; echo "status \${PIPESTATUS[0]}"`], { stderr: "pipe" });
    expect({ stdout: p.stdout.toString(), stderr: p.stderr.toString() }).toEqual({ stdout: "1\nstatus 0\n", stderr: "" });
    expect(diyc(root, ["rm", "rl-logs"]).code).toBe(0);
    expectGone("rl-logs");
  });

  test("as a user with no subordinate ids: every command says what rootless diyc needs, 125, and touches nothing", () => {
    expect(diyc(root, ["run", "-d", "rl-user", "busybox", "sleep", "30"]).code).toBe(0);
    const asNobody = (args: string[]) => diycAs(NOBODY, root, args);
    // An ordinary user is rootless (docs/rootless.md); nobody has no subordinate ids, so nothing can run.
    const refusal = "diyc: rootless diyc needs 65536 subordinate ids for nobody in /etc/subuid (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody)\n";
    for (const args of [["ps", "-a"], ["network", "ls"], ["image", "ls"], ["stop", "rl-user"], ["rm", "-f", "rl-user"], ["run", "rl-u2", "busybox", "true"], ["rl-u3", "busybox", "true"]]) {
      expect([args.join(" "), asNobody(args)]).toEqual([args.join(" "), { code: 125, stdout: "", stderr: refusal }]);
    }
    expect(view("rl-user")?.status).toBe("running"); // none of them touched it
    expect(asNobody(["ps", "--help"]).code).toBe(0);
    expect(diyc(root, ["rm", "-f", "rl-user"]).code).toBe(0);
    expectGone("rl-user");
  });
});
