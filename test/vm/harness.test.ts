// The VM harness's own logic, without a VM: module order from modules.dep,
// the kernel command line, reading bun's JUnit report off a console.

import { describe, expect, test } from "bun:test";
import { insmodOrder, parseModulesDep, VmImageError } from "./image";
import { GUEST_TEST_FILES, junitFromConsole, kernelCommandLine, parseJunit } from "./vm";

describe("modules.dep", () => {
  const dep = parseModulesDep([
    "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko",
    "kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio.ko kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko",
    "kernel/net/9p/9pnet.ko:",
    "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko",
    "kernel/fs/netfs/netfs.ko:",
    "kernel/drivers/virtio/virtio.ko:",
    "kernel/drivers/virtio/virtio_ring.ko:",
    "kernel/drivers/net/dummy-net.ko:",
    "",
  ].join("\n"));

  test("each module after everything it depends on, each once", () => {
    const order = insmodOrder(dep, ["9pnet_virtio", "9p"]);
    expect(order).toEqual([
      "kernel/drivers/virtio/virtio.ko", "kernel/net/9p/9pnet.ko", "kernel/drivers/virtio/virtio_ring.ko",
      "kernel/net/9p/9pnet_virtio.ko", "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/fs/9p/9p.ko",
    ]);
    for (const [i, path] of order.entries()) {
      const name = path.slice(path.lastIndexOf("/") + 1, -3);
      for (const d of dep.get(name)!.deps) expect(order.indexOf(d)).toBeLessThan(i);
    }
  });

  test("a dash in the file name is an underscore in the module's name; an unknown module is an error", () => {
    expect(insmodOrder(dep, ["dummy_net"])).toEqual(["kernel/drivers/net/dummy-net.ko"]);
    expect(() => insmodOrder(dep, ["nosuch"])).toThrow(VmImageError);
  });
});

describe("the kernel command line", () => {
  test("pure v2, the checkout and the test files for init; a filter is quoted", () => {
    const line = kernelCommandLine("/work/repo", 'memory "x"');
    expect(line.split(" ")).toEqual(expect.arrayContaining([
      "console=ttyS0", "cgroup_no_v1=all", "systemd.unified_cgroup_hierarchy=1", "diyc_repo=/work/repo",
      `diyc_tests=${GUEST_TEST_FILES.join(",")}`,
    ]));
    expect(line).toEndWith(' diyc_filter="memory x"');
    expect(kernelCommandLine("/r", undefined, "tmp/x.sh")).toEndWith(" diyc_script=tmp/x.sh");
  });
});

describe("the JUnit report on the console", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="3">
  <testsuite name="a.ts" file="./a.ts" tests="3">
    <testsuite name="grp &lt;a&gt;" file="./a.ts" tests="2">
      <testcase name="one &amp; &quot;two&quot;" classname="grp &lt;a&gt;" time="0.5" file="./a.ts" line="2" assertions="1">
        <failure type="AssertionError" message="m">AssertionError: expected 2&#10;received 1</failure>
      </testcase>
      <testcase name="ok" classname="grp &lt;a&gt;" time="0.25" file="./a.ts" line="2" assertions="0" />
    </testsuite>
    <testcase name="top" classname="" time="0" file="./a.ts" line="3" assertions="0">
      <skipped />
    </testcase>
  </testsuite>
</testsuites>`;

  test("one result per testcase: describe > name, status, failure text, time", () => {
    expect(parseJunit(xml)).toEqual([
      { file: "a.ts", key: 'grp <a> > one & "two"', status: "fail", failure: "AssertionError: expected 2\nreceived 1", seconds: 0.5 },
      { file: "a.ts", key: "grp <a> > ok", status: "pass", failure: undefined, seconds: 0.25 },
      { file: "a.ts", key: "top", status: "skip", failure: undefined, seconds: 0 },
    ]);
  });

  test("found between the markers in base64 lines, among kernel and test output; none without the end marker", () => {
    const b64 = Buffer.from(xml).toString("base64").replace(/.{76}/g, "$&\n");
    const console = `VM| ready 2.5\n(pass) x\n[ 3.1] random: crng init done\nVM-JUNIT-BEGIN\n${b64}\nVM-JUNIT-END\n[ 9.0] reboot: Power down\n`;
    expect(junitFromConsole(console)?.map((r) => r.key)).toEqual(['grp <a> > one & "two"', "grp <a> > ok", "top"]);
    expect(junitFromConsole(`VM-JUNIT-BEGIN\n${b64}`)).toBeUndefined();
    expect(junitFromConsole("VM| ready\n")).toBeUndefined();
  });
});
