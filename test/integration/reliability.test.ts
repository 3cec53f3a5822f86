// Nothing lost, nothing stale (issue 10), on the real kernel: what a crash
// leaves half-made is repaired or removed by the next command; commands that
// race on one container decide under its lock; commands on several names act
// on every one and tell the truth about each.
//
// Isolation: a store of this file's own, container names "rl-*", no network.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cgroupParentFor } from "../../src/runtime/limits";
import { Store } from "../../src/store/store";
import { DIYC, diyc, isRoot, mountsUnder, processExists, removeStore, storeCgroups, tempStore } from "../helpers/diyc";

const describeRoot = isRoot ? describe : describe.skip;

let root: string;

beforeAll(() => {
  root = tempStore("diyc-rl-");
});

afterAll(() => {
  removeStore(root);
});

const psJson = () => JSON.parse(diyc(root, ["ps", "-a", "--format", "json"]).stdout) as Record<string, unknown>[];
const view = (name: string) => psJson().find((c) => c.name === name);
const containerDir = (name: string) => join(root, "containers", name);
const lockFile = (name: string) => join(root, "locks", `${name}.lock`);
const state = (name: string) => JSON.parse(readFileSync(join(containerDir(name), "state.json"), "utf8")) as { init: { pid: number }; monitor: { pid: number } };

function cgroupDirs(name: string): string[] {
  const parent = cgroupParentFor(new Store(root));
  return readdirSync("/sys/fs/cgroup").map((h) => `/sys/fs/cgroup/${h}/${parent}/${name}`).filter((d) => existsSync(d));
}

/** Proves that nothing of the container is left: directory, lock file, cgroups. */
function expectGone(name: string): void {
  expect(existsSync(containerDir(name))).toBe(false);
  expect(existsSync(lockFile(name))).toBe(false);
  expect(cgroupDirs(name)).toEqual([]);
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
    expect(cgroupDirs("rl-part2")).toEqual([]);
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
    const listed = psJson().filter((c) => String(c.name).startsWith("rl-half"));
    expect(listed.map((c) => [c.name, c.status, c.image])).toEqual([
      ["rl-half1", "exited", null], ["rl-half2", "exited", null], ["rl-half3", "exited", null],
    ]);
    expect(diyc(root, ["ps", "-a"]).stdout).toMatch(/\nrl-half1\s+""\s+Incomplete\n/);
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
  });
});
