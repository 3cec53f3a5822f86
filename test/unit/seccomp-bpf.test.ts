// The seccomp compiler, checked by running its BPF program on sample calls
// with a small classic-BPF interpreter (the instructions it emits only).

import { describe, expect, test } from "bun:test";
import { compileSeccomp, SeccompError } from "../../src/seccomp/bpf";
import { CLONE_NAMESPACE_FLAGS, DEFAULT_SECCOMP } from "../../src/seccomp/profile";
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64 } from "../../src/seccomp/syscalls-x86_64";
import { ALL_SYSCALLS_X86_64 } from "../../src/seccomp/syscall-table-x86_64";

const ALLOW = 0x7fff0000;
const errno = (n: number) => 0x00050000 | n;
const KILL = 0x80000000;

/** Runs the filter on struct seccomp_data { nr, arch, ip, args[6] }. */
function run(program: Uint8Array, nr: number, args: bigint[] = [], arch = AUDIT_ARCH_X86_64): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((a, i) => data.writeBigUInt64LE(a, 16 + 8 * i));
  const code = Buffer.from(program);
  let acc = 0;
  for (let pc = 0; pc < code.length / 8; ) {
    const op = code.readUInt16LE(pc * 8), jt = code[pc * 8 + 2]!, jf = code[pc * 8 + 3]!, k = code.readUInt32LE(pc * 8 + 4);
    switch (op) {
      case 0x20: acc = data.readUInt32LE(k); pc++; break; // ld [k]
      case 0x54: acc = (acc & k) >>> 0; pc++; break; // and #k
      case 0x15: pc += 1 + (acc === k ? jt : jf); break; // jeq #k
      case 0x35: pc += 1 + (acc >= k ? jt : jf); break; // jge #k
      case 0x25: pc += 1 + (acc > k ? jt : jf); break; // jgt #k
      case 0x06: return k; // ret #k
      default: throw new Error(`unexpected opcode ${op}`);
    }
  }
  throw new Error("fell off the end of the program");
}

const filter = compileSeccomp(DEFAULT_SECCOMP, "x64");
const nr = (name: string) => SYSCALLS_X86_64[name] ?? ALL_SYSCALLS_X86_64[name]!;

describe("the default profile", () => {
  test("ordinary calls are allowed", () => {
    for (const call of [0, 1, 2, 59 /* execve */, 57 /* fork */, 60 /* exit */, 231]) expect(run(filter, call)).toBe(ALLOW);
  });
  test("host-reaching calls get EPERM", () => {
    for (const name of ["mount", "umount2", "unshare", "setns", "kexec_load", "init_module", "bpf", "keyctl", "reboot", "io_uring_setup"]) {
      expect([name, run(filter, nr(name))]).toEqual([name, errno(1)]);
    }
  });
  test("clone: threads and processes allowed, new namespaces refused; clone3 says ENOSYS", () => {
    const CLONE_THREAD_FLAGS = 0x3d0f00n;
    expect(run(filter, nr("clone"), [CLONE_THREAD_FLAGS])).toBe(ALLOW);
    expect(run(filter, nr("clone"), [17n /* SIGCHLD */])).toBe(ALLOW);
    expect(run(filter, nr("clone"), [0x10000000n | 17n])).toBe(errno(1)); // CLONE_NEWUSER
    expect(run(filter, nr("clone"), [BigInt(CLONE_NAMESPACE_FLAGS)])).toBe(errno(1));
    expect(run(filter, nr("clone3"))).toBe(errno(38));
  });
  test("another architecture is killed; x32 calls get ENOSYS", () => {
    expect(run(filter, 1, [], 0x40000003 /* i386 */)).toBe(KILL);
    expect(run(filter, 0x40000000 + 1)).toBe(errno(38));
  });
});

describe("compiler input checks", () => {
  test("other architectures, operators and actions are one-line errors; unknown names are skipped as libseccomp does", () => {
    expect(compileSeccomp({ ...DEFAULT_SECCOMP, syscalls: [{ names: ["nope"], action: "SCMP_ACT_ERRNO" }] }, "x64").length).toBe(7 * 8);
    expect(() => compileSeccomp(DEFAULT_SECCOMP, "arm64")).toThrow("no syscall table for architecture arm64");
    expect(() => compileSeccomp({ ...DEFAULT_SECCOMP, architectures: ["SCMP_ARCH_AARCH64"] }, "x64")).toThrow(SeccompError);
    expect(() => compileSeccomp({ ...DEFAULT_SECCOMP, syscalls: [{ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_XX" as never }] }] }, "x64")).toThrow("unknown argument operator");
    expect(() => compileSeccomp({ ...DEFAULT_SECCOMP, syscalls: [{ names: ["clone"], action: "SCMP_ACT_NOPE" as never }] }, "x64")).toThrow("unknown action");
  });
  test("every comparison operator on 64-bit values, and the default errno", () => {
    const big = (1n << 32n) + 5n;
    const ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"] as const;
    const truth: Record<(typeof ops)[number], (a: bigint) => boolean> = {
      SCMP_CMP_NE: (a) => a !== big, SCMP_CMP_LT: (a) => a < big, SCMP_CMP_LE: (a) => a <= big,
      SCMP_CMP_EQ: (a) => a === big, SCMP_CMP_GE: (a) => a >= big, SCMP_CMP_GT: (a) => a > big,
    };
    for (const op of ops) {
      const program = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls: [
        { names: ["getpid"], action: "SCMP_ACT_ALLOW", args: [{ index: 1, value: Number(big), op }] },
      ] }, "x64");
      for (const a of [0n, 5n, big - 1n, big, big + 1n, 1n << 40n, (1n << 32n) + 4n, 6n]) {
        expect([op, a, run(program, nr("getpid"), [0n, a])]).toEqual([op, a, truth[op](a) ? ALLOW : errno(38)]);
      }
      expect(run(program, nr("getppid"))).toBe(errno(38));
    }
  });
  test("SCMP_CMP_MASKED_EQ masks both halves", () => {
    const program = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: [], syscalls: [
      { names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 0xff00000000ff, valueTwo: 0x10000000000, op: "SCMP_CMP_MASKED_EQ" }] },
    ] }, "x64");
    expect(run(program, nr("personality"), [0x10000000f00n])).toBe(errno(1));
    expect(run(program, nr("personality"), [0x10000000001n])).toBe(ALLOW);
  });
  test("SCMP_CMP_EQ checks both halves of the argument", () => {
    const program = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [
      { names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
    ] }, "x64");
    expect(run(program, nr("personality"), [8n])).toBe(errno(13));
    expect(run(program, nr("personality"), [8n + (1n << 32n)])).toBe(ALLOW);
    expect(run(program, nr("personality"), [9n])).toBe(ALLOW);
  });
});
