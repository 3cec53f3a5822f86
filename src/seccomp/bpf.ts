// Compiles a seccomp profile (the OCI runtime-spec's linux.seccomp) into a
// classic BPF program for seccomp(SECCOMP_SET_MODE_FILTER). The helper only
// loads the bytes (native/ops.c op_seccomp); every decision is here. It is
// written by hand rather than taken from libseccomp because it is on the
// security path and runs in TypeScript, where libseccomp cannot (shared/design.md).
//
// The program, for x86-64:
//   load arch; not x86-64 -> kill the process (a 32-bit entry point would
//     otherwise bypass a filter written for 64-bit numbers)
//   load nr; an x32 call -> ENOSYS
//   a binary search over the syscall numbers the profile names (JGE splits),
//     so a call costs about log2(N) compares, not N, with hundreds of names;
//     runs of consecutive numbers with the same plain action are one range
//   at a named syscall: its rules in order; the first whose argument checks
//     all hold returns its action; none -> the default action
//   any other number -> the default action
//
// Jumps go forward only, as BPF requires. Conditional jumps reach at most 255
// instructions: they stay inside one syscall's rules; the search tree uses
// JA (a 32-bit offset) to skip a subtree.

import { DiycError } from "../linux/errors";
import type { LinuxSeccomp, SeccompAction, SeccompArg, SeccompRule } from "../spec/oci";
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64, X32_SYSCALL_BIT } from "./syscalls-x86_64";

// linux/filter.h (classic BPF opcodes)
const LD_W_ABS = 0x20;
const JA = 0x05;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const AND_K = 0x54;
const RET_K = 0x06;

// linux/seccomp.h return values
const RET_KILL_PROCESS = 0x80000000;
const RET_KILL_THREAD = 0x00000000;
const RET_TRAP = 0x00030000;
const RET_ERRNO = 0x00050000;
const RET_TRACE = 0x7ff00000;
const RET_LOG = 0x7ffc0000;
const RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const ENOSYS = 38;

/** seccomp(2) flags a profile may ask for (SECCOMP_FILTER_FLAG_* in linux/seccomp.h). */
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

// struct seccomp_data: nr, arch, instruction_pointer, args[6] (64-bit each, little-endian).
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const argLow = (index: number) => 16 + 8 * index;
const argHigh = (index: number) => 16 + 8 * index + 4;

/** A jump target, placed with `mark`; resolved to an offset when the program is laid out. */
interface Label {
  readonly name: string;
}

interface Instruction {
  code: number;
  k: number;
  jt?: Label;
  jf?: Label;
  /** JA's target: k becomes the offset. */
  to?: Label;
}

type Item = Instruction | { mark: Label };

export class SeccompError extends DiycError {}

const ins = (code: number, k: number, jt?: Label, jf?: Label): Instruction => ({ code, k: k >>> 0, jt, jf });

function returnValue(action: SeccompAction, errnoRet: number | undefined, where: string): number {
  switch (action) {
    case "SCMP_ACT_ALLOW": return RET_ALLOW;
    case "SCMP_ACT_ERRNO": return RET_ERRNO | ((errnoRet ?? EPERM) & 0xffff);
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD": return RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS": return RET_KILL_PROCESS;
    case "SCMP_ACT_TRAP": return RET_TRAP;
    case "SCMP_ACT_TRACE": return RET_TRACE | ((errnoRet ?? 0) & 0xffff);
    case "SCMP_ACT_LOG": return RET_LOG;
  }
  throw new SeccompError(`seccomp: unsupported action ${JSON.stringify(action)} in ${where}`);
}

function split64(value: number | bigint, what: string): { high: number; low: number } {
  const big = BigInt(value);
  if (big < 0n || big >= 1n << 64n || (typeof value === "number" && !Number.isSafeInteger(value))) {
    throw new SeccompError(`seccomp: ${what} ${value} is not an unsigned 64-bit integer (write large values as exact integers)`);
  }
  return { high: Number(big >> 32n), low: Number(big & 0xffffffffn) };
}

let labelCount = 0;
const newLabel = (name: string): Label => ({ name: `${name}#${labelCount++}` });

/**
 * One argument check: falls through when it holds, jumps to `fail` when not.
 * Arguments are 64-bit; BPF words are 32: the high word decides unless equal.
 */
function argumentCheck(arg: SeccompArg, fail: Label): Item[] {
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new SeccompError(`seccomp: argument index ${arg.index} out of range (0-5)`);
  const v = split64(arg.value, "argument value");
  const hi = ins(LD_W_ABS, argHigh(arg.index));
  const lo = ins(LD_W_ABS, argLow(arg.index));
  const pass = newLabel("pass");
  const next = newLabel("next");
  switch (arg.op) {
    case "SCMP_CMP_EQ":
      return [hi, ins(JEQ_K, v.high, next, fail), { mark: next }, lo, ins(JEQ_K, v.low, pass, fail), { mark: pass }];
    case "SCMP_CMP_NE":
      return [hi, ins(JEQ_K, v.high, next, pass), { mark: next }, lo, ins(JEQ_K, v.low, fail, pass), { mark: pass }];
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE": {
      const more = newLabel("equal-high");
      return [hi, ins(JGT_K, v.high, pass, more), { mark: more }, ins(JEQ_K, v.high, next, fail), { mark: next }, lo,
        ins(arg.op === "SCMP_CMP_GT" ? JGT_K : JGE_K, v.low, pass, fail), { mark: pass }];
    }
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      const more = newLabel("equal-high");
      // a < v is not (a >= v); a <= v is not (a > v).
      return [hi, ins(JGT_K, v.high, fail, more), { mark: more }, ins(JEQ_K, v.high, next, pass), { mark: next }, lo,
        ins(arg.op === "SCMP_CMP_LT" ? JGE_K : JGT_K, v.low, fail, pass), { mark: pass }];
    }
    case "SCMP_CMP_MASKED_EQ": {
      // (arg & value) == valueTwo, word by word.
      const want = split64(arg.valueTwo ?? 0, "argument valueTwo");
      return [hi, ins(AND_K, v.high), ins(JEQ_K, want.high, next, fail), { mark: next }, lo, ins(AND_K, v.low),
        ins(JEQ_K, want.low, pass, fail), { mark: pass }];
    }
  }
  throw new SeccompError(`seccomp: unsupported argument operator ${JSON.stringify((arg as SeccompArg).op)}`);
}

/** A syscall's rules in order, then the default. Every path ends in a RET. */
function syscallBlock(rules: SeccompRule[], defaultReturn: number, name: string): Item[] {
  const out: Item[] = [];
  for (const rule of rules) {
    const next = newLabel("next-rule");
    for (const arg of rule.args ?? []) out.push(...argumentCheck(arg, next));
    out.push(ins(RET_K, returnValue(rule.action, rule.errnoRet, `the rule for ${name}`)), { mark: next });
  }
  out.push(ins(RET_K, defaultReturn));
  return out;
}

/** Consecutive syscall numbers whose rules are the same: one range, one block. */
interface SyscallRange {
  from: number;
  to: number;
  block: Item[];
  /** Set when the block is one unconditional return: ranges with equal ones merge. */
  simpleReturn?: number;
}

/**
 * Merges neighbours with the same unconditional action: an allow list names
 * hundreds of calls, mostly in runs of consecutive numbers, and one range
 * check per run keeps the program small (about a tenth of one per call).
 */
function toRanges(entries: { nr: number; rules: SeccompRule[]; name: string }[], defaultReturn: number): SyscallRange[] {
  const ranges: SyscallRange[] = [];
  for (const { nr, rules, name } of entries) {
    const only = rules[0]!;
    const simpleReturn = rules.length === 1 && !only.args?.length ? returnValue(only.action, only.errnoRet, `the rule for ${name}`) : undefined;
    const last = ranges.at(-1);
    if (last && simpleReturn !== undefined && last.simpleReturn === simpleReturn && last.to + 1 === nr) {
      last.to = nr;
      continue;
    }
    ranges.push({ from: nr, to: nr, block: syscallBlock(rules, defaultReturn, name), simpleReturn });
  }
  return ranges;
}

/**
 * The search over sorted ranges: inner nodes split with JGE; a leaf checks
 * each of its ranges in turn (above it: next range; inside: its block; below
 * it, in a gap: the default).
 */
function dispatch(ranges: SyscallRange[], defaultReturn: number): Item[] {
  if (ranges.length <= 4) {
    const out: Item[] = [];
    for (const { from, to, block } of ranges) {
      const next = newLabel("next-range");
      const check = newLabel("check-range");
      const inside = newLabel("in-range");
      const gap = newLabel("gap");
      out.push(ins(JGT_K, to, next, check), { mark: check }, ins(JGE_K, from, inside, gap), { mark: gap }, ins(RET_K, defaultReturn),
        { mark: inside }, ...block, { mark: next });
    }
    out.push(ins(RET_K, defaultReturn));
    return out;
  }
  const middle = Math.floor(ranges.length / 2);
  const upper = newLabel("upper-half");
  const lower = newLabel("lower-half");
  const jumpUp = newLabel("jump-up");
  return [
    ins(JGE_K, ranges[middle]!.from, jumpUp, lower),
    { mark: jumpUp },
    { code: JA, k: 0, to: upper },
    { mark: lower },
    ...dispatch(ranges.slice(0, middle), defaultReturn),
    { mark: upper },
    ...dispatch(ranges.slice(middle), defaultReturn),
  ];
}

/** struct sock_filter: an instruction with its jumps as offsets. */
interface Encoded {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Places the labels and turns them into jump offsets. */
function assemble(items: Item[]): Encoded[] {
  const position = new Map<Label, number>();
  const program: Instruction[] = [];
  for (const item of items) {
    if ("mark" in item) position.set(item.mark, program.length);
    else program.push(item);
  }
  const offset = (from: number, label: Label): number => {
    const target = position.get(label);
    if (target === undefined || target <= from) throw new SeccompError(`seccomp: internal error: bad jump to ${label.name}`);
    return target - from - 1;
  };
  const conditional = (from: number, label: Label | undefined): number => {
    if (!label) return 0;
    const distance = offset(from, label);
    if (distance > 255) throw new SeccompError("seccomp: too many rules for one system call (a jump is over 255 instructions)");
    return distance;
  };
  return program.map((instruction, at) => ({
    code: instruction.code,
    jt: conditional(at, instruction.jt),
    jf: conditional(at, instruction.jf),
    k: instruction.to ? offset(at, instruction.to) : instruction.k,
  }));
}

export interface CompiledSeccomp {
  /** struct sock_filter[], as seccomp(2) takes it. */
  program: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
}

export function compileSeccomp(profile: LinuxSeccomp, arch: string): Uint8Array {
  return compileSeccompWithFlags(profile, arch).program;
}

export function compileSeccompWithFlags(profile: LinuxSeccomp, arch: string): CompiledSeccomp {
  if (arch !== "x64") throw new SeccompError(`seccomp: no syscall table for architecture ${arch}; run with --security-opt seccomp=unconfined`);
  if (!profile.architectures.includes("SCMP_ARCH_X86_64") && profile.architectures.length > 0) {
    throw new SeccompError(`seccomp: the profile does not cover SCMP_ARCH_X86_64 (it lists ${profile.architectures.join(", ")})`);
  }
  const flags = seccompFlags(profile);
  const defaultReturn = returnValue(profile.defaultAction, profile.defaultErrnoRet, "defaultAction");
  const bySyscall = new Map<number, { name: string; rules: SeccompRule[] }>();
  for (const rule of profile.syscalls ?? []) {
    for (const name of rule.names ?? []) {
      const nr = SYSCALLS_X86_64[name];
      // A name this architecture lacks (socketcall, or a newer kernel's call)
      // is skipped, as libseccomp and runc skip it: profiles list every
      // architecture's calls. The default profile's names are checked by its tests.
      if (nr === undefined) continue;
      const entry = bySyscall.get(nr) ?? { name, rules: [] };
      entry.rules.push(rule);
      bySyscall.set(nr, entry);
    }
  }
  const entries = [...bySyscall].sort(([a], [b]) => a - b).map(([nr, { name, rules }]) => ({ nr, name, rules }));
  const arch64 = newLabel("x86-64");
  const notX32 = newLabel("not-x32");
  const x32 = newLabel("x32");
  const killArch = newLabel("other-arch");
  const items: Item[] = [
    ins(LD_W_ABS, OFFSET_ARCH),
    ins(JEQ_K, AUDIT_ARCH_X86_64, arch64, killArch),
    { mark: killArch },
    ins(RET_K, RET_KILL_PROCESS),
    { mark: arch64 },
    ins(LD_W_ABS, OFFSET_NR),
    ins(JGE_K, X32_SYSCALL_BIT, x32, notX32),
    { mark: x32 },
    ins(RET_K, RET_ERRNO | ENOSYS),
    { mark: notX32 },
    ...dispatch(toRanges(entries, defaultReturn), defaultReturn),
  ];
  const program = assemble(items);
  if (program.length > 4096) throw new SeccompError(`seccomp: the filter has ${program.length} instructions; the kernel allows 4096`);

  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, i) => {
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(instruction.jt, i * 8 + 2);
    bytes.writeUInt8(instruction.jf, i * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, i * 8 + 4);
  });
  return { program: bytes, flags };
}
