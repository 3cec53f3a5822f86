// The recording of a run for the front (src/runtime/prepared.ts): the recipe's
// escaping, the cgroup steps a run's cgroup operations become (on a mimic of
// cgroupfs), what makes a run unrecordable, and the store's bound on recipes.
// The front's replay of real recipes is test/integration/prepared-start.test.ts.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCgroupManager } from "../../src/cgroups";
import { mimicV1Host, mimicV2Host } from "../../src/cgroups/mimic";
import {
  escapeField, MAX_RECIPES, mountLinesOfTypes, sentinel, StartRecording, unescapeField,
} from "../../src/runtime/prepared";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "diyc-prepared-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A recording with no environment read, and its recipe's step lines (after the head). */
const recording = (path = join(dir, "prepared", "r")) => StartRecording.start(path, "argv x", () => []);
const steps = (r: StartRecording) => r.text()!.split("\n").slice(2).map((line) => line.split("\t").map(unescapeField));

describe("the recipe's text", () => {
  test("a field is one line: tabs, newlines, NULs, backslashes and $ are escaped, and come back", () => {
    const text = "a\tb\nc\0d\\e${HOME}$x";
    expect(escapeField(text)).toBe("a\\tb\\nc\\0d\\\\e\\${HOME}\\$x");
    expect(unescapeField(escapeField(text))).toBe(text);
  });

  test("a template's placeholders are bare ${name}; the run's own ${...} stays escaped text", () => {
    const r = recording();
    r.atomicJson("/c.json", "644", { createdAtMs: sentinel("now"), args: ["echo ${HOME}"] }, ["now"]);
    expect(r.text()!.split("\n").at(-1)).toBe('atomic\t/c.json\t644\t{\\n  "createdAtMs": ${now},\\n  "args": [\\n    "echo \\${HOME}"\\n  ]\\n}\\n');
    expect(r.refused).toBeUndefined();
  });

  test("a value of the run's own that holds a placeholder's digits: not recorded (the front would fill it in)", () => {
    const r = recording();
    r.atomicJson("/c.json", "644", { createdAtMs: sentinel("now"), env: [`X=${sentinel("init.pid")}`] }, ["now"]);
    expect(r.refused).toMatch(/placeholder init.pid/);
    const twice = recording();
    twice.atomicJson("/c.json", "644", { createdAtMs: sentinel("now"), env: [`X=${sentinel("now")}`] }, ["now"]);
    expect(twice.refused).toMatch(/placeholder now/);
  });

  test("the mount lines of cgroup file systems only", () => {
    const mountinfo = "24 1 0:22 / /proc rw - proc proc rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n41 31 0:38 / /u rw - cgroup2 cgroup2 rw\n";
    expect(mountLinesOfTypes(mountinfo)).toBe("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n41 31 0:38 / /u rw - cgroup2 cgroup2 rw\n");
  });
});

describe("a run's cgroup operations, recorded", () => {
  test("v1: the shared parent is ensured and filled, the container's own made, released with patience; the parent's release is best effort", () => {
    const r = recording();
    const mimic = mimicV1Host(dir, { hierarchies: [["cpuset"], ["pids"]] });
    const manager = detectCgroupManager({ mountsText: mimic.mountinfo, root: dir, parent: "diyc", fs: r.cgroupFs(mimic.fs) });
    r.enter("create");
    const cgroup = manager.create("web", { pids: { limit: 5 } });
    r.enter("procs");
    cgroup.addProcess(1234);
    const cg = (...rest: string[]) => join(dir, "sys/fs/cgroup", ...rest);
    // The process is gone (the mimic keeps what was written): the cgroups are empty again.
    for (const hierarchy of ["cpuset", "pids"]) writeFileSync(cg(hierarchy, "diyc/web/cgroup.procs"), "");
    r.enter("release");
    expect(cgroup.oomKilled()).toBe(false);
    cgroup.remove();
    manager.removeParent();
    expect(steps(r)).toEqual([
      ["cg-ensure", cg("cpuset/diyc")],
      ["cg-fill", cg("cpuset/diyc/cpuset.cpus"), cg("cpuset/cpuset.cpus")],
      ["cg-fill", cg("cpuset/diyc/cpuset.mems"), cg("cpuset/cpuset.mems")],
      ["cg-ensure", cg("pids/diyc")],
      ["cg-mkdir", cg("cpuset/diyc/web")],
      ["cg-fill", cg("cpuset/diyc/web/cpuset.cpus"), cg("cpuset/diyc/cpuset.cpus")],
      ["cg-fill", cg("cpuset/diyc/web/cpuset.mems"), cg("cpuset/diyc/cpuset.mems")],
      ["cg-mkdir", cg("pids/diyc/web")],
      ["cg-write", cg("pids/diyc/web/pids.max"), "5"],
      ["cg-procs", cg("cpuset/diyc/web/cgroup.procs")],
      ["cg-procs", cg("pids/diyc/web/cgroup.procs")],
      ["cg-rmdir", cg("pids/diyc/web")],
      ["cg-rmdir", cg("cpuset/diyc/web")],
      ["cg-rmdir-shared", cg("cpuset/diyc")],
      ["cg-rmdir-shared", cg("pids/diyc")],
    ]);
    expect(r.refused).toBeUndefined();
  });

  test("v1: the shared parent busy (another container in it): every hierarchy's is still tried, and recorded", () => {
    const r = recording();
    const mimic = mimicV1Host(dir, { hierarchies: [["cpuset"], ["pids"], ["memory"]] });
    const manager = detectCgroupManager({ mountsText: mimic.mountinfo, root: dir, parent: "diyc", fs: r.cgroupFs(mimic.fs) });
    const other = detectCgroupManager({ mountsText: mimic.mountinfo, root: dir, parent: "diyc", fs: mimic.fs });
    r.enter("create");
    const cgroup = manager.create("web", {});
    other.create("db", {}); // another container of the store, alive while web is released
    r.enter("release");
    cgroup.remove();
    expect(() => manager.removeParent()).toThrow(/EBUSY/);
    expect(steps(r).filter((s) => s[0] === "cg-rmdir-shared").map((s) => s[1])).toEqual(
      ["cpuset", "memory", "pids"].map((h) => join(dir, "sys/fs/cgroup", h, "diyc")), // the drivers' order
    );
  });

  test("v2: the controllers handed down as one step, the device program as another", () => {
    const r = recording();
    const mimic = mimicV2Host(dir, ["cpu", "memory", "pids"]);
    const manager = detectCgroupManager({ mountsText: mimic.mountinfo, root: dir, parent: "diyc", fs: r.cgroupFs(mimic.fs) });
    r.enter("create");
    manager.create("web", { memory: { limit: 1 << 24 } });
    const ops = steps(r).map((s) => s[0]);
    expect(ops).toContain("cg-enable");
    expect(ops.at(-1)).toBe("cg-bpf");
    expect(steps(r).find((s) => s[0] === "cg-enable")).toEqual(["cg-enable", join(dir, "sys/fs/cgroup"), "cpuset cpu memory pids"]);
    expect(r.refused).toBeUndefined();
  });

  test("what a replay could get wrong is refused: a read that decides a step, a cgroup made outside the create", () => {
    const mimic = mimicV1Host(dir, { hierarchies: [["pids"]] });
    const outside = recording();
    outside.cgroupFs(mimic.fs).read(join(dir, "sys/fs/cgroup/pids/pids.max"));
    expect(outside.refused).toMatch(/decided a step/);
    const early = recording();
    early.cgroupFs(mimic.fs).mkdir(join(dir, "sys/fs/cgroup/pids/x"));
    expect(early.refused).toMatch(/outside the container's create/);
    expect(early.text()).toBeUndefined();
  });
});

describe("the store's recipes", () => {
  test(`at most ${MAX_RECIPES}: a save removes the oldest written`, () => {
    const prepared = join(dir, "prepared");
    const name = (i: number) => i.toString(16).padStart(16, "0");
    recording(join(prepared, name(1000))).save();
    writeFileSync(join(prepared, `${name(1000)}.suspended-1`), "x"); // a _finish's: never pruned
    for (let i = 0; i < MAX_RECIPES + 5; i++) {
      writeFileSync(join(prepared, name(i)), "x");
      utimesSync(join(prepared, name(i)), 1000 + i, 1000 + i); // older than anything saved now
    }
    utimesSync(join(prepared, `${name(1000)}.suspended-1`), 1, 1);
    expect(recording(join(prepared, name(2000))).save()).toBe(true);
    const left = readdirSync(prepared);
    expect(left).toHaveLength(MAX_RECIPES + 1);
    expect(left).toContain(name(2000));
    expect(left).toContain(name(1000));
    expect(left).toContain(`${name(1000)}.suspended-1`);
    expect(left).not.toContain(name(0));
  });

  test("a suspended recording (the hand-off) resumes with the cgroups it made, and ends in one recipe", () => {
    const r = recording();
    const mimic = mimicV1Host(dir, { hierarchies: [["pids"]] });
    const fs = r.cgroupFs(mimic.fs);
    r.enter("create");
    fs.mkdir(join(dir, "sys/fs/cgroup/pids/web"));
    const suspended = join(dir, "prepared", "r.suspended-1");
    expect(r.save(suspended)).toBe(true);
    const resumed = StartRecording.resume(r.path, r.text()!);
    resumed.enter("release");
    resumed.cgroupFs(mimic.fs).rmdir(join(dir, "sys/fs/cgroup/pids/web"));
    expect(resumed.text()!.split("\n").slice(-2)).toEqual([`cg-mkdir\t${join(dir, "sys/fs/cgroup/pids/web")}`, `cg-rmdir\t${join(dir, "sys/fs/cgroup/pids/web")}`]);
  });
});
