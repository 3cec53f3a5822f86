// The plan's bytes as TypeScript writes them and C reads them. The op table
// (src/plan/ops.ts) is the one source: native/plan-ops.h is generated from it
// and must be what the generator writes; real plans are decoded (and
// validated) with the helper's --print-plan.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodePlan } from "../../src/plan/encode";
import { renderOpHeader } from "../../src/plan/c-header";
import { OpCode, OpFlag, type Plan } from "../../src/plan/ops";
import { HELPER_STEPS, Sync } from "../../src/runtime/helper-channel";
import { HELPER, REPO } from "../helpers/diyc";

const header = readFileSync(join(REPO, "native/plan-ops.h"), "utf8");

function cEnum(prefix: string): Map<string, number> {
  const entries = new Map<string, number>();
  for (const match of header.matchAll(new RegExp(`\\b${prefix}([A-Z_]+) = (\\d+)`, "g"))) entries.set(match[1]!, Number(match[2]));
  return entries;
}

/** The wire format without the encoder's checks: what a buggy or hostile writer could send. */
function encodeUnchecked(plan: Plan): Uint8Array {
  const parts: Buffer[] = [Buffer.from("DIYCPLAN", "latin1")];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
  parts.push(u32(1), u32(plan.ops.length));
  for (const op of plan.ops) {
    parts.push(u16(OpCode[op.code]), u16(op.flags ?? 0), u16(op.args.length), u16(0), u32(0));
    for (const arg of op.args) {
      const bytes = typeof arg === "string" ? Buffer.from(arg) : Buffer.from(new BigUint64Array([BigInt(arg as number)]).buffer);
      parts.push(u32(bytes.length), bytes, Buffer.alloc(1));
    }
  }
  return Buffer.concat(parts);
}

const snake = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

function printPlan(plan: Plan, trace = false): string {
  const child = Bun.spawnSync([HELPER, "--print-plan"], { stdin: encodePlan(plan, trace) });
  expect(child.exitCode).toBe(0);
  return child.stdout.toString();
}

describe("opcodes", () => {
  test("native/plan-ops.h is what the op table generates (npm run gen:ops)", () => {
    expect(header).toBe(renderOpHeader());
  });

  test("the helper refuses a plan that breaks the table: unknown op, wrong arguments, a setting twice or after a step", () => {
    const refused = (plan: Plan) => Bun.spawnSync([HELPER, "--print-plan"], { stdin: encodeUnchecked(plan) }).exitCode;
    expect(refused({ ops: [{ code: "Clone", args: [0], describe: "" }, { code: "Chdir", args: ["/"], describe: "" }] })).toBe(0);
    expect(refused({ ops: [{ code: "Setuid", args: ["zero"], describe: "" }] })).not.toBe(0);
    expect(refused({ ops: [{ code: "Clone", args: [0], describe: "" }, { code: "Clone", args: [0], describe: "" }] })).not.toBe(0);
    expect(refused({ ops: [{ code: "Chdir", args: ["/"], describe: "" }, { code: "Detach", args: [], describe: "" }] })).not.toBe(0);
    expect(refused({ ops: [{ code: "Mkdir", args: ["/a"], describe: "" }] })).not.toBe(0);
  });

  test("the encoder refuses what the helper would: argument counts, inexact numbers", () => {
    expect(() => encodePlan({ ops: [{ code: "Mkdir", args: ["/a"], describe: "" }] }, false)).toThrow("takes 2-2");
    expect(() => encodePlan({ ops: [{ code: "Setuid", args: [2 ** 60], describe: "" }] }, false)).toThrow("not an exact integer");
    expect(() => encodePlan({ ops: [{ code: "Setuid", args: [2n ** 60n], describe: "" }] }, false)).not.toThrow();
  });

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
