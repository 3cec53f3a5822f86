// The plan's bytes as TypeScript writes them and C reads them. The opcodes
// are declared twice (src/plan/ops.ts, native/plan.h): this test keeps them equal,
// and decodes real plans with the helper's --print-plan.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodePlan } from "../../src/plan/encode";
import { OpCode, OpFlag, type Plan } from "../../src/plan/ops";
import { HELPER_STEPS, Sync } from "../../src/runtime/helper-channel";
import { HELPER, REPO } from "../helpers/diyc";

const header = readFileSync(join(REPO, "native/plan.h"), "utf8");

function cEnum(prefix: string): Map<string, number> {
  const entries = new Map<string, number>();
  for (const match of header.matchAll(new RegExp(`\\b${prefix}([A-Z_]+) = (\\d+)`, "g"))) entries.set(match[1]!, Number(match[2]));
  return entries;
}

const snake = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

function printPlan(plan: Plan, trace = false): string {
  const child = Bun.spawnSync([HELPER, "--print-plan"], { stdin: encodePlan(plan, trace) });
  expect(child.exitCode).toBe(0);
  return child.stdout.toString();
}

describe("opcodes", () => {
  test("every TypeScript opcode has the same number in native/plan.h", () => {
    const c = cEnum("OP_");
    for (const [name, value] of Object.entries(OpCode)) expect([name, c.get(snake(name))]).toEqual([name, value]);
    expect(c.size).toBe(Object.keys(OpCode).length);
  });

  test("op flags match", () => {
    const c = cEnum("OPF_");
    for (const [name, value] of Object.entries(OpFlag)) expect(c.get(snake(name))).toBe(value);
  });
});

describe("protocol messages", () => {
  const protocol = readFileSync(join(REPO, "native/protocol.h"), "utf8");
  const cValues = (prefix: string) => new Map([...protocol.matchAll(new RegExp(`\\b${prefix}([A-Z_]+) = (\\d+)`, "g"))].map((m) => [m[1]!, Number(m[2])]));

  test("every sync message has the same number in native/protocol.h", () => {
    const c = cValues("SYNC_");
    for (const [name, value] of Object.entries(Sync)) expect([name, c.get(snake(name))]).toEqual([name, value]);
    expect(c.size).toBe(Object.keys(Sync).length);
  });

  test("every helper step the C side can report has a name", () => {
    const c = cValues("HELPER_");
    const steps = [...c].filter(([name]) => name !== "SOCKET_FD");
    for (const [, value] of steps) expect(HELPER_STEPS[value]).toBeDefined();
    expect(steps.length).toBe(Object.keys(HELPER_STEPS).length);
  });
});

describe("encoding", () => {
  test("the helper decodes strings, numbers, lists and raw bytes as written", () => {
    const plan: Plan = {
      ops: [
        { code: "Mount", flags: OpFlag.InRoot | OpFlag.MkdirTarget, args: ["proc", "/proc", "proc", 14, ""], describe: "mount proc" },
        { code: "Exec", args: ["sh", { list: ["sh", "-c", "echo hi"] }, { list: ["PATH=/bin"] }, "/bin"], describe: "exec" },
        { code: "DropBounding", args: [Uint8Array.from([21, 38])], describe: "" },
        { code: "PivotRoot", args: [], describe: "" },
      ],
    };
    expect(printPlan(plan)).toBe(
      "0 mount flags=5 [4]proc [5]/proc [4]proc #14 [0]\n" +
      "1 exec flags=0 [2]sh [13]sh [9]PATH=/bin [4]/bin\n" +
      "2 drop-bounding flags=0 [2]\x15&\n" +
      "3 pivot-root flags=0\n",
    );
  });

  test("a list argument keeps its items apart (NUL separators)", () => {
    const bytes = encodePlan({ ops: [{ code: "CleanupHook", args: [{ list: ["/a b", "c"] }], describe: "" }] }, false);
    expect(Buffer.from(bytes).includes(Buffer.from("/a b\0c\0"))).toBe(true);
  });

  test("the helper refuses a truncated plan", () => {
    const bytes = encodePlan({ ops: [{ code: "Chdir", args: ["/"], describe: "chdir /" }] }, true);
    const child = Bun.spawnSync([HELPER, "--print-plan"], { stdin: bytes.subarray(0, bytes.length - 3) });
    expect(child.exitCode).toBe(1);
    expect(child.stderr.toString()).toContain("not a valid plan");
  });

  test("trace lines travel only when asked for (-v)", () => {
    const plan: Plan = { ops: [{ code: "Chdir", args: ["/"], describe: "chdir /" }] };
    expect(Buffer.from(encodePlan(plan, true)).includes(Buffer.from("CONTAINER| chdir /"))).toBe(true);
    expect(Buffer.from(encodePlan(plan, false)).includes(Buffer.from("CONTAINER|"))).toBe(false);
  });
});
