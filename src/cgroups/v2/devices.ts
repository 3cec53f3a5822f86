// v2 device control: an eBPF program, not files.
//
// cgroup v2 has no devices.allow/devices.deny. Instead the kernel runs a
// program of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup, on
// every open(2) and mknod(2) of a device node by a process in it; the program
// returns 1 (allow) or 0 (deny, EPERM). Without one, a container process with
// CAP_MKNOD could make a node for the host's disk and open it. This module
// turns the same rules the v1 driver writes (../v1/devices.ts) into that
// program; the bytes are loaded and attached by src/linux/bpf.ts, through
// CgroupFs.attachDeviceProgram.
//
// The program, in eBPF (r1 points at struct bpf_cgroup_dev_ctx on entry:
// u32 access_type = access << 16 | type, u32 major, u32 minor):
//
//   r2 = ctx->access_type & 0xffff    the device type: 1 block, 2 char
//   r3 = ctx->access_type >> 16       the access: 1 mknod, 2 read, 4 write
//   r4 = ctx->major
//   r5 = ctx->minor
//   for each rule:                    (a jump to "next" skips to the next rule)
//     if r2 != rule's type     goto next     (left out for type "a")
//     if r3 & ~rule's access   goto next     (left out for "rwm")
//     if r4 != rule's major    goto next     (left out for "*")
//     if r5 != rule's minor    goto next     (left out for "*")
//     return 1
//   return 0                          nothing matched: deny
//
// The rules form an allow-list, so their order does not matter. Every jump
// goes forward, within its rule, as the verifier requires.

import type { DeviceRule } from "../device-rules";

// linux/bpf.h: instruction classes, operations and sources.
const BPF_LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
const BPF_ALU32_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_ALU32_RSH_K = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const BPF_ALU64_MOV_K = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const BPF_JMP_JNE_K = 0x55; // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc + 1 + off
const BPF_JMP_JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K: if dst & imm goto pc + 1 + off
const BPF_JMP_EXIT = 0x95;

// linux/bpf.h: struct bpf_cgroup_dev_ctx and its values.
const CTX_ACCESS_TYPE = 0;
const CTX_MAJOR = 4;
const CTX_MINOR = 8;
const DEV_BLOCK = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR = 2; // BPF_DEVCG_DEV_CHAR
const ACCESS_BITS: Record<string, number> = { m: 1, r: 2, w: 4 }; // BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
const ALL_ACCESS = 7;

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

/** One eBPF instruction: opcode, destination and source registers, offset, immediate. */
export interface BpfInstruction {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const ins = (code: number, dst: number, src: number, off: number, imm: number): BpfInstruction => ({ code, dst, src, off, imm });

/** The access bits a rule's "rwm" string grants. */
export function accessBits(access: string): number {
  let bits = 0;
  for (const letter of access) {
    const bit = ACCESS_BITS[letter];
    if (bit === undefined) throw new Error(`device rule access ${JSON.stringify(access)}: only r, w and m`);
    bits |= bit;
  }
  return bits;
}

/** A rule's checks, each jumping `toNext` past the rest of the rule when it fails. */
function ruleChecks(rule: DeviceRule): ((toNext: number) => BpfInstruction)[] {
  const checks: ((toNext: number) => BpfInstruction)[] = [];
  if (rule.type !== "a") {
    const type = rule.type === "b" ? DEV_BLOCK : DEV_CHAR;
    checks.push((toNext) => ins(BPF_JMP_JNE_K, R2, 0, toNext, type));
  }
  const denied = ALL_ACCESS & ~accessBits(rule.access);
  if (denied !== 0) checks.push((toNext) => ins(BPF_JMP_JSET_K, R3, 0, toNext, denied));
  const major = rule.major;
  if (major !== "*") checks.push((toNext) => ins(BPF_JMP_JNE_K, R4, 0, toNext, major));
  const minor = rule.minor;
  if (minor !== "*") checks.push((toNext) => ins(BPF_JMP_JNE_K, R5, 0, toNext, minor));
  return checks;
}

/** The program's instructions: an allow-list, everything else denied. */
export function deviceProgramInstructions(rules: readonly DeviceRule[]): BpfInstruction[] {
  const program: BpfInstruction[] = [
    ins(BPF_LDX_MEM_W, R2, R1, CTX_ACCESS_TYPE, 0),
    ins(BPF_ALU32_AND_K, R2, 0, 0, 0xffff),
    ins(BPF_LDX_MEM_W, R3, R1, CTX_ACCESS_TYPE, 0),
    ins(BPF_ALU32_RSH_K, R3, 0, 0, 16),
    ins(BPF_LDX_MEM_W, R4, R1, CTX_MAJOR, 0),
    ins(BPF_LDX_MEM_W, R5, R1, CTX_MINOR, 0),
  ];
  for (const rule of rules) {
    const checks = ruleChecks(rule);
    // After check i come the remaining checks and the rule's two-instruction
    // "return 1": a failed check jumps over all of them.
    checks.forEach((check, i) => program.push(check(checks.length - 1 - i + 2)));
    program.push(ins(BPF_ALU64_MOV_K, R0, 0, 0, 1), ins(BPF_JMP_EXIT, 0, 0, 0, 0));
  }
  program.push(ins(BPF_ALU64_MOV_K, R0, 0, 0, 0), ins(BPF_JMP_EXIT, 0, 0, 0, 0));
  return program;
}

/** struct bpf_insn, 8 bytes each: code, dst_reg (low nibble) | src_reg (high nibble), s16 off, s32 imm. */
export function encodeBpf(program: readonly BpfInstruction[]): Uint8Array {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach((instruction, i) => {
    view.setUint8(i * 8, instruction.code);
    view.setUint8(i * 8 + 1, (instruction.src << 4) | instruction.dst);
    view.setInt16(i * 8 + 2, instruction.off, true);
    view.setInt32(i * 8 + 4, instruction.imm, true);
  });
  return bytes;
}

/** What CgroupFs.attachDeviceProgram attaches: the bytes, and what they say, for -v. */
export interface DeviceProgram {
  instructions: Uint8Array;
  rules: number;
}

export function compileDeviceProgram(rules: readonly DeviceRule[]): DeviceProgram {
  return { instructions: encodeBpf(deviceProgramInstructions(rules)), rules: rules.length };
}
