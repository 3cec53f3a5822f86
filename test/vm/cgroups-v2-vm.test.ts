// diyc on a pure cgroup v2 kernel, in a VM. This host is cgroup v1 (hybrid),
// so the v2 driver would otherwise meet only a fake cgroup tree. One VM boot
// (./vm.ts: qemu, Debian's kernel with cgroup_no_v1=all, a busybox
// initramfs, this checkout over 9p read-only) runs every test of
// ./guest/cgroups-v2.guest.ts with the real diyc, each reported here as its
// own test with the guest's failure text, and run.test.ts, reported as one
// test listing its failures.
//
// Without qemu, or without a kernel image, every case is reported as
// skipped, by name, and .ci/run fails on skipped tests (see docs/cgroups.md).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureVmImage, type VmImage } from "./image";
import { GUEST_TEST_FILES, startVm, vmUnavailable, type GuestResult, type RunningVm, type VmOutcome } from "./vm";

const GUEST_FILE = "test/vm/guest/cgroups-v2.guest.ts";
/** The integration test files that also run in the VM, each reported here as one test. */
const INTEGRATION_FILES = GUEST_TEST_FILES.map((f) => f.replace(/^\.\//, "")).filter((f) => f !== GUEST_FILE);

/**
 * The guest file's tests as "describe > test" keys, read from its source
 * (its tests are written as describe("...") at the top level and test("...")
 * inside, one level deep), so that each is known before the VM runs them and
 * one the VM never reports fails here instead of vanishing.
 */
function guestTestKeys(source: string): string[] {
  const keys: string[] = [];
  let group: string | undefined;
  for (const line of source.split("\n")) {
    const d = /^describe\("((?:[^"\\]|\\.)*)"/.exec(line);
    if (d) group = JSON.parse(`"${d[1]}"`);
    const t = /^(\s*)test\("((?:[^"\\]|\\.)*)"/.exec(line);
    if (t) {
      const name = JSON.parse(`"${t[2]}"`) as string;
      keys.push(t[1] === "" || group === undefined ? name : `${group} > ${name}`);
    }
    if (line === "});") group = undefined;
  }
  return keys;
}

const keys = guestTestKeys(readFileSync(join(import.meta.dir, "../..", GUEST_FILE), "utf8"));

// Is a VM possible here? The kernel is downloaded (first run only) and the
// initramfs built now, so that a host where that fails reports skips, not failures.
let image: VmImage | undefined;
let unavailable = vmUnavailable();
if (!unavailable) {
  try {
    image = ensureVmImage();
  } catch (error) {
    unavailable = `no VM image: ${(error as Error).message}`;
  }
}
if (unavailable) console.warn(`cgroup v2 VM tests skipped: ${unavailable}`);

/** The whole VM run: boot, ~20 guest tests, poweroff; well under a minute on 2 cores, a few on a slow machine. */
const VM_TIMEOUT_MS = 8 * 60_000;

let vm: RunningVm | undefined;
let outcome: VmOutcome | undefined;
let results = new Map<string, GuestResult>();
let all: GuestResult[] = [];

const consoleTail = () => (outcome?.console ?? "").split("\n").slice(-40).join("\n");

const describeVm = unavailable ? describe.skip : describe;

function registerHooks(): void {
  beforeAll(async () => {
    vm = startVm({ image, timeoutMs: VM_TIMEOUT_MS });
    outcome = await vm.outcome;
    all = outcome.results ?? [];
    results = new Map(all.filter((r) => r.file === GUEST_FILE).map((r) => [r.key, r]));
    const failed = all.filter((r) => r.status === "fail").length;
    console.log(`cgroup v2 VM: ready after ${outcome.bootSeconds?.toFixed(1) ?? "?"} s, ${outcome.totalSeconds.toFixed(1)} s in all; ` +
      `${all.length} results from the VM, ${failed} failed (console: build/vm/console.log)`);
  }, VM_TIMEOUT_MS + 30_000);

  afterAll(() => {
    // Normally the guest has powered off by now; after a timeout or an error, qemu is killed by its pid.
    vm?.kill();
  });
}

describeVm("cgroup v2 in a VM", () => {
  // Only when it runs: in a skipped describe, bun shows the hooks as skipped "(unnamed)" tests.
  if (!unavailable) registerHooks();

  test("the VM boots a pure cgroup v2 kernel, runs the guest tests and powers off", () => {
    if (!outcome?.results) throw new Error(`no test report came from the VM (qemu exit ${outcome?.exitCode}); console tail:\n${consoleTail()}`);
    // The VM's only cgroup mount is cgroup2 (init.sh prints every line of /proc/mounts that says cgroup).
    const line = (prefix: string) => outcome!.console.split("\n").find((l) => l.startsWith(prefix)) ?? "(no such line)";
    expect(line("VM| kernel ")).toMatch(/; cgroup: cgroup2 \/sys\/fs\/cgroup cgroup2 rw,[^ ]*nsdelegate[^ ]* 0 0 $/);
    expect(line("VM| controllers: ")).toMatch(/^VM\| controllers: cpuset cpu io memory .*pids/);
    expect(outcome.exitCode).toBe(0);
    // Every guest test reported, and nothing the host does not know of.
    expect([...results.keys()].sort()).toEqual([...keys].sort());
    // The guest's own check after its tests: no overlay or diyc mount left in the VM.
    expect(outcome.console).not.toContain("VM| leftover mount");
  });

  for (const file of INTEGRATION_FILES) {
    test(`${file}, run in the VM: every test passes`, () => {
      const mine = all.filter((r) => r.file === file);
      if (mine.length === 0) throw new Error(`the VM reported no result for ${file}; console tail:\n${consoleTail()}`);
      const failed = mine.filter((r) => r.status === "fail");
      if (failed.length > 0) throw new Error(`${failed.length} of ${mine.length} failed in the VM:\n${failed.map((r) => `(fail) ${r.key}\n${r.failure}`).join("\n")}`);
      // Skipped in the VM (a root or tool check that failed there) is not passed.
      expect(mine.filter((r) => r.status === "skip").map((r) => r.key)).toEqual([]);
    });
  }

  for (const key of keys) {
    test(key, () => {
      const result = results.get(key);
      if (!result) throw new Error(`the VM reported no result for this test; console tail:\n${consoleTail()}`);
      if (result.status === "fail") throw new Error(`failed in the VM:\n${result.failure}`);
      // A test skipped in the guest is a failure here: the VM exists to run them all.
      expect(result.status).toBe("pass");
    });
  }
});
