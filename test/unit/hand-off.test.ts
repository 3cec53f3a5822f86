// The hand-off of a foreground run's wait to diyc-wait (src/runtime/hand-off.ts),
// without root: what diyc-wait is told (the policy, as data), in which order
// the process is prepared, and that a failed execve leaves everything as it was.

import { describe, expect, test } from "bun:test";
import { RecordingSyscalls } from "../../src/linux/recording";
import { traceTo } from "../../src/linux/trace";
import type { RuntimeContext } from "../../src/runtime/context";
import { handOffWait, type HandOff } from "../../src/runtime/hand-off";
import { HelperChannel } from "../../src/runtime/helper-channel";
import { Store } from "../../src/store/store";

function setUp(verbose: boolean) {
  const syscalls = new RecordingSyscalls();
  const lines: string[] = [];
  const ctx = {
    store: new Store("/var/lib/diyc-test", "/var/lib/diyc-test/network"),
    syscalls,
    trace: verbose ? traceTo((line) => lines.push(line)) : undefined,
    diycCommand: ["/opt/diyc/build/diyc"],
  } as unknown as RuntimeContext;
  const channel = HelperChannel.adopt(7, 4100, syscalls);
  const handOff: HandOff = {
    name: "web", channel, initPid: 4101,
    signals: () => ({ forward: [15, 10, 12], catchOnly: [1, 2, 3], count: { signal: 2, after: 2, action: 9, trace: "interrupted 3 times: kill the container (SIGKILL)" } }),
  };
  syscalls.calls.length = 0; // adopt's own call is not the hand-off's
  return { syscalls, ctx, handOff, lines };
}

describe("handOffWait", () => {
  test("diyc-wait gets the socket, the init, the signal policy and the command that finishes the run", async () => {
    const { syscalls, ctx, handOff, lines } = setUp(true);
    await handOffWait(ctx, handOff);
    const exec = syscalls.calls.find((c) => c.name === "execv")!;
    expect(exec.args[0]).toMatch(/^\/proc\/self\/fd\/\d+$/);
    expect(exec.args[1]).toEqual([
      "diyc-wait", "7", "4101",
      "--forward", "15,10,12", "--catch", "1,2,3", "--count", "2:2:9",
      "--note", "HOST| interrupted 3 times: kill the container (SIGKILL)\n",
      "--unblock", "15,10,12,1,2,3", "--fail", "125",
      "--", "/opt/diyc/build/diyc", "--root", "/var/lib/diyc-test", "--networks", "/var/lib/diyc-test/network", "-v",
      "_finish", "web", "7", "4100",
    ]);
    expect(lines[0]).toStartWith("HOST| the init runs on: hand the wait to diyc-wait");
  });

  test("the image is sealed, the signals blocked and the socket kept open across the execve, in that order", async () => {
    const { syscalls, ctx, handOff } = setUp(false);
    await handOffWait(ctx, handOff);
    expect(syscalls.calls.map((c) => c.name)).toEqual(["sealedMemfd", "blockSignals", "setCloseOnExec", "execv", "setCloseOnExec", "unblockSignals", "close"]);
    expect(syscalls.calls[0]!.args[0]).toBe("diyc-wait"); // not "diyc-helper": tests count the monitors by that name
    expect(syscalls.calls[1]!.args[0]).toEqual([15, 10, 12, 1, 2, 3]);
    expect(syscalls.calls[2]!.args).toEqual([7, false]);
  });

  test("a failed execve (the recording's is one) undoes the preparation: diyc waits on itself", async () => {
    const { syscalls, ctx, handOff, lines } = setUp(true);
    await handOffWait(ctx, handOff);
    const exec = syscalls.calls.findIndex((c) => c.name === "execv");
    const image = Number(String(syscalls.calls[exec]!.args[0]).split("/").pop());
    expect(syscalls.calls.slice(exec + 1)).toEqual([
      { name: "setCloseOnExec", args: [7, true] },
      { name: "unblockSignals", args: [[15, 10, 12, 1, 2, 3]] },
      { name: "close", args: [image] },
    ]);
    expect(lines.at(-1)).toStartWith("HOST| diyc waits on: the hand-off failed (execv");
  });
});
