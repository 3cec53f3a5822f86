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
import { ALL_SYSCALLS_X86_64 } from "./syscall-table-x86_64";

// linux/filter.h and linux/seccomp.h
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const AND_K = 0x54;
const RET_K = 0x06;
const RET_KILL_PROCESS = 0x80000000;
const RET_KILL_THREAD = 0x00000000;
const RET_TRAP = 0x00030000;
const RET_ERRNO = 0x00050000;
const RET_TRACE = 0x7ff00000;
const RET_LOG = 0x7ffc0000;
const RET_ALLOW = 0x7fff0000;
const ENOSYS = 38;
const EPERM = 1;

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

function returnValue(action: SeccompAction, errno = EPERM): number {
  switch (action) {
    case "SCMP_ACT_ALLOW": return RET_ALLOW;
    case "SCMP_ACT_ERRNO": return RET_ERRNO | (errno & 0xffff);
    case "SCMP_ACT_KILL_PROCESS": return RET_KILL_PROCESS;
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD": return RET_KILL_THREAD;
    case "SCMP_ACT_TRAP": return RET_TRAP;
    case "SCMP_ACT_TRACE": return RET_TRACE | (errno & 0xffff);
    case "SCMP_ACT_LOG": return RET_LOG;
  }
  throw new SeccompError(`seccomp: unknown action ${JSON.stringify(action)}`);
}

/**
 * A jump's destination inside one rule: "next" is the following instruction,
 * "ok" the end of the current argument check (it held), "fail" past the
 * rule's return (the next rule).
 */
type Target = "next" | "ok" | "fail";
interface Asm {
  code: number;
  k: number;
  jt?: Target;
  jf?: Target;
}

const ld = (offset: number): Asm => ({ code: LD_W_ABS, k: offset });
const jump = (code: number, k: number, jt: Target, jf: Target): Asm => ({ code, k, jt, jf });

/**
 * One argument check on 64-bit values, as two 32-bit words: the high word
 * decides unless the words are equal, then the low word does.
 */
function argCheck(arg: NonNullable<SeccompRule["args"]>[number]): Asm[] {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new SeccompError(`seccomp: argument index ${arg.index} out of range`);
  const split = (value: number | undefined, field: string) => {
    const v = BigInt.asUintN(64, BigInt(value ?? 0));
    if (value !== undefined && !Number.isInteger(value)) throw new SeccompError(`seccomp: argument ${field} ${value} is not an integer`);
    return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
  };
  const v = split(arg.value, "value");
  const hi = ld(argHigh(arg.index));
  const lo = ld(argLow(arg.index));
  switch (arg.op) {
    case "SCMP_CMP_EQ":
      return [hi, jump(JEQ_K, v.hi, "next", "fail"), lo, jump(JEQ_K, v.lo, "ok", "fail")];
    case "SCMP_CMP_NE":
      return [hi, jump(JEQ_K, v.hi, "next", "ok"), lo, jump(JEQ_K, v.lo, "fail", "ok")];
    case "SCMP_CMP_MASKED_EQ": {
      const want = split(arg.valueTwo, "valueTwo");
      return [
        hi, { code: AND_K, k: v.hi }, jump(JEQ_K, want.hi, "next", "fail"),
        lo, { code: AND_K, k: v.lo }, jump(JEQ_K, want.lo, "ok", "fail"),
      ];
    }
    case "SCMP_CMP_GT":
      return [hi, jump(JGT_K, v.hi, "ok", "next"), jump(JEQ_K, v.hi, "next", "fail"), lo, jump(JGT_K, v.lo, "ok", "fail")];
    case "SCMP_CMP_GE":
      return [hi, jump(JGT_K, v.hi, "ok", "next"), jump(JEQ_K, v.hi, "next", "fail"), lo, jump(JGE_K, v.lo, "ok", "fail")];
    case "SCMP_CMP_LT":
      return [hi, jump(JGT_K, v.hi, "fail", "next"), jump(JEQ_K, v.hi, "next", "ok"), lo, jump(JGE_K, v.lo, "fail", "ok")];
    case "SCMP_CMP_LE":
      return [hi, jump(JGT_K, v.hi, "fail", "next"), jump(JEQ_K, v.hi, "next", "ok"), lo, jump(JGT_K, v.lo, "fail", "ok")];
  }
  throw new SeccompError(`seccomp: unknown argument operator ${JSON.stringify(arg.op)}`);
}

/** A rule: its argument checks in a row, then its return; a failed check jumps past the return. */
function ruleInstructions(rule: SeccompRule): Instruction[] {
  const checks = (rule.args ?? []).map(argCheck);
  const total = checks.reduce((n, c) => n + c.length, 0);
  const out: Instruction[] = [];
  let position = 0;
  for (const check of checks) {
    const end = position + check.length;
    check.forEach((asm, i) => {
      const at = position + i;
      const offset = (target: Target | undefined) =>
        target === undefined || target === "next" ? 0 : target === "ok" ? end - at - 1 : total - at; // "fail": past the RET at index total
      out.push(ins(asm.code, asm.k, offset(asm.jt), offset(asm.jf)));
    });
    position = end;
  }
  out.push(ins(RET_K, returnValue(rule.action, rule.errnoRet)));
  return out;
}

function syscallBlock(rules: SeccompRule[], defaultReturn: number): Instruction[] {
  const out: Instruction[] = [];
  for (const rule of rules) out.push(...ruleInstructions(rule));
  out.push(ins(RET_K, defaultReturn));
  return out;
}

/** SECCOMP_FILTER_FLAG_* by the names the runtime-spec uses. */
export const SECCOMP_FILTER_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

/** The flags word for seccomp(2); unknown names are refused. */
export function seccompFlags(profile: LinuxSeccomp): number {
  let flags = 0;
  for (const name of profile.flags ?? []) {
    const bit = SECCOMP_FILTER_FLAGS[name];
    if (bit === undefined) throw new SeccompError(`linux.seccomp.flags: unknown flag ${JSON.stringify(name)}`);
    flags |= bit;
  }
  return flags;
}

/** Architectures a profile may list: x86-64 is compiled, the others it runs beside are refused at run time (killed). */
const KNOWN_ARCHITECTURES = new Set(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);

export function compileSeccomp(profile: LinuxSeccomp, arch: string): Uint8Array {
  if (arch !== "x64") throw new SeccompError(`seccomp: no syscall table for architecture ${arch}; run with --security-opt seccomp=unconfined`);
  // x86 and x32 may be listed beside x86-64 (podman and docker list them): their
  // calls are not compiled, and the filter kills (x86) or refuses (x32) them.
  const architectures = profile.architectures ?? [];
  const unknownArch = architectures.find((a) => !KNOWN_ARCHITECTURES.has(a));
  if (unknownArch !== undefined || (architectures.length > 0 && !architectures.includes("SCMP_ARCH_X86_64"))) {
    throw new SeccompError(`seccomp: only SCMP_ARCH_X86_64 (with X86 and X32 beside it) is supported (got ${architectures.join(", ")})`);
  }
  const defaultReturn = returnValue(profile.defaultAction, profile.defaultErrnoRet);
  const bySyscall = new Map<number, SeccompRule[]>();
  for (const rule of profile.syscalls ?? []) {
    for (const name of rule.names ?? []) {
      const nr = SYSCALLS_X86_64[name] ?? ALL_SYSCALLS_X86_64[name];
      // libseccomp skips a name the architecture lacks; so do we (podman's profile names some).
      if (nr === undefined) continue;
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
