// The v2 device program's compiler (src/cgroups/v2/devices.ts). The program
// itself is run by the real kernel in test/integration/cgroups-v1.test.ts
// ("devices: the eBPF program ..."); here, the instructions it is made of.

import { describe, expect, test } from "bun:test";
import { DEFAULT_DEVICE_RULES, type DeviceRule } from "../../src/cgroups";
import { accessBits, compileDeviceProgram, deviceProgramInstructions, encodeBpf } from "../../src/cgroups/v2/devices";

const rule = (type: DeviceRule["type"], major: DeviceRule["major"], minor: DeviceRule["minor"], access: string): DeviceRule =>
  ({ type, major, minor, access, what: "test" });

/** An instruction as `code dst src off imm`, for readable expectations. */
const show = (rules: DeviceRule[]) => deviceProgramInstructions(rules).map((i) => `${i.code.toString(16)} r${i.dst} r${i.src} ${i.off} ${i.imm}`);

const PROLOGUE = [
  "61 r2 r1 0 0", // r2 = ctx->access_type
  "54 r2 r0 0 65535", // r2 &= 0xffff: the type
  "61 r3 r1 0 0", // r3 = ctx->access_type
  "74 r3 r0 0 16", // r3 >>= 16: the access
  "61 r4 r1 4 0", // r4 = ctx->major
  "61 r5 r1 8 0", // r5 = ctx->minor
];
const DENY = ["b7 r0 r0 0 0", "95 r0 r0 0 0"];
const ALLOW = ["b7 r0 r0 0 1", "95 r0 r0 0 0"];

describe("device program", () => {
  test("no rules: deny everything", () => {
    expect(show([])).toEqual([...PROLOGUE, ...DENY]);
  });

  test("a full rule checks type, access, major and minor; a failed check jumps to the next rule", () => {
    expect(show([rule("c", 1, 3, "rw"), rule("b", 8, 0, "rwm")])).toEqual([
      ...PROLOGUE,
      "55 r2 r0 5 2", // not a char device: skip 3 checks + allow
      "45 r3 r0 4 1", // asks for mknod, which "rw" does not grant
      "55 r4 r0 3 1",
      "55 r5 r0 2 3",
      ...ALLOW,
      "55 r2 r0 4 1", // block; "rwm" needs no access check
      "55 r4 r0 3 8",
      "55 r5 r0 2 0",
      ...ALLOW,
      ...DENY,
    ]);
  });

  test("wildcards leave their check out; type a matches both kinds", () => {
    expect(show([rule("c", 136, "*", "rwm"), rule("a", "*", "*", "m")])).toEqual([
      ...PROLOGUE,
      "55 r2 r0 3 2",
      "55 r4 r0 2 136",
      ...ALLOW,
      "45 r3 r0 2 6", // read or write: not granted by "m"
      ...ALLOW,
      ...DENY,
    ]);
  });

  test("access letters are the kernel's bits: m 1, r 2, w 4; anything else is refused", () => {
    expect([accessBits("m"), accessBits("r"), accessBits("w"), accessBits("rwm")]).toEqual([1, 2, 4, 7]);
    expect(() => accessBits("x")).toThrow('device rule access "x": only r, w and m');
  });

  test("encoding: struct bpf_insn, 8 bytes, registers packed dst low and src high", () => {
    const bytes = encodeBpf([{ code: 0x61, dst: 2, src: 1, off: 4, imm: -1 }]);
    expect([...bytes]).toEqual([0x61, 0x12, 4, 0, 0xff, 0xff, 0xff, 0xff]);
  });

  test("the default rules: 10 allow rules, and the program's size", () => {
    const program = compileDeviceProgram(DEFAULT_DEVICE_RULES);
    expect(program.rules).toBe(10);
    // prologue 6 + per rule (checks + 2) + deny 2
    const checks = DEFAULT_DEVICE_RULES.reduce((n, r) => n + 1 + (r.access === "rwm" ? 0 : 1) + (r.major === "*" ? 0 : 1) + (r.minor === "*" ? 0 : 1), 0);
    expect(program.instructions.length).toBe((6 + checks + 2 * 10 + 2) * 8);
  });
});
