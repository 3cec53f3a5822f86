// Compiles a seccomp profile (the OCI linux.seccomp subset in src/spec/oci.ts)
// into a classic BPF program for seccomp(SECCOMP_SET_MODE_FILTER). The helper
// only loads the bytes (native/ops.c op_seccomp); every decision is here.
//
// The program, for x86-64:
//   load arch; not x86-64 -> kill the process (a 32-bit entry point would
//   otherwise bypass a filter written for 64-bit numbers)
//   load nr; an x32 call -> ENOSYS
//   for each named syscall: nr == N ? its rules, in order : next syscall
//     a rule with args loads each argument, compares, and returns its action;
//     a syscall none of whose rules matched gets the default action
//   the default action
// Jumps only go forward and stay short (a syscall's rules), as BPF requires.

import { DiycError } from "../linux/errors";
import type { LinuxSeccomp, SeccompAction, SeccompRule } from "../spec/oci";
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64, X32_SYSCALL_BIT } from "./syscalls-x86_64";

// linux/filter.h and linux/seccomp.h
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const AND_K = 0x54;
const RET_K = 0x06;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const RET_ALLOW = 0x7fff0000;
const ENOSYS = 38;

// struct seccomp_data: nr, arch, instruction_pointer, args[6] (64-bit each, little-endian).
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const argLow = (index: number) => 16 + 8 * index;
const argHigh = (index: number) => 16 + 8 * index + 4;

interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const ins = (code: number, k: number, jt = 0, jf = 0): Instruction => ({ code, jt, jf, k: k >>> 0 });

export class SeccompError extends DiycError {}

function returnValue(action: SeccompAction, errno = 1): number {
  switch (action) {
    case "SCMP_ACT_ALLOW": return RET_ALLOW;
    case "SCMP_ACT_ERRNO": return RET_ERRNO | (errno & 0xffff);
    case "SCMP_ACT_KILL_PROCESS": return RET_KILL_PROCESS;
  }
}

/** A rule's body: each argument check jumps to `miss` (the next rule) when it fails. */
function ruleBody(rule: SeccompRule): Instruction[][] {
  // Built as groups so that the jump to "the next rule" can be counted afterwards.
  const checks: Instruction[][] = [];
  for (const arg of rule.args ?? []) {
    if (arg.index < 0 || arg.index > 5) throw new SeccompError(`seccomp: argument index ${arg.index} out of range`);
    const limit = 2 ** 32;
    if (arg.value >= limit || (arg.valueTwo ?? 0) >= limit) throw new SeccompError("seccomp: argument values must be below 2^32");
    if (arg.op === "SCMP_CMP_EQ") {
      checks.push([ins(LD_W_ABS, argHigh(arg.index)), ins(JEQ_K, 0)]);
      checks.push([ins(LD_W_ABS, argLow(arg.index)), ins(JEQ_K, arg.value)]);
    } else {
      // (arg & mask) == valueTwo; the mask is below 2^32, so the high word masks to 0.
      checks.push([ins(LD_W_ABS, argLow(arg.index)), ins(AND_K, arg.value), ins(JEQ_K, arg.valueTwo ?? 0)]);
    }
  }
  return checks;
}

function syscallBlock(rules: SeccompRule[], defaultReturn: number): Instruction[] {
  const out: Instruction[] = [];
  for (const rule of rules) {
    const checks = ruleBody(rule);
    const ret = ins(RET_K, returnValue(rule.action, rule.errnoRet));
    // Each failing compare skips the rest of this rule: its remaining checks and its return.
    const flat = checks.flat();
    let remaining = flat.length + 1;
    for (const instruction of flat) {
      remaining--;
      if (instruction.code === JEQ_K) instruction.jf = remaining;
      out.push(instruction);
    }
    out.push(ret);
  }
  out.push(ins(RET_K, defaultReturn));
  return out;
}

export function compileSeccomp(profile: LinuxSeccomp, arch: string): Uint8Array {
  if (arch !== "x64") throw new SeccompError(`seccomp: no syscall table for architecture ${arch}; run with --security-opt seccomp=unconfined`);
  if (!profile.architectures.every((a) => a === "SCMP_ARCH_X86_64")) {
    throw new SeccompError(`seccomp: only SCMP_ARCH_X86_64 is supported (got ${profile.architectures.join(", ")})`);
  }
  const defaultReturn = returnValue(profile.defaultAction);
  const bySyscall = new Map<number, SeccompRule[]>();
  for (const rule of profile.syscalls) {
    for (const name of rule.names) {
      const nr = SYSCALLS_X86_64[name];
      if (nr === undefined) throw new SeccompError(`seccomp: unknown system call ${JSON.stringify(name)}`);
      bySyscall.set(nr, [...(bySyscall.get(nr) ?? []), rule]);
    }
  }
  const program: Instruction[] = [
    ins(LD_W_ABS, OFFSET_ARCH),
    ins(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    ins(RET_K, RET_KILL_PROCESS),
    ins(LD_W_ABS, OFFSET_NR),
    ins(JGE_K, X32_SYSCALL_BIT, 0, 1),
    ins(RET_K, RET_ERRNO | ENOSYS),
  ];
  for (const [nr, rules] of bySyscall) {
    const block = syscallBlock(rules, defaultReturn);
    if (block.length > 255) throw new SeccompError("seccomp: too many rules for one system call");
    program.push(ins(JEQ_K, nr, 0, block.length), ...block);
  }
  program.push(ins(RET_K, defaultReturn));
  if (program.length > 4096) throw new SeccompError("seccomp: the filter is longer than the kernel allows (4096)");

  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, i) => {
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(instruction.jt, i * 8 + 2);
    bytes.writeUInt8(instruction.jf, i * 8 + 3);
    bytes.writeUInt32LE(instruction.k, i * 8 + 4);
  });
  return bytes;
}
