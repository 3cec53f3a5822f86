// The seccomp compiler, checked by running its BPF program on sample calls
// with a small classic-BPF interpreter (the instructions it emits only).

import { describe, expect, test } from "bun:test";
import { compileSeccomp, SeccompError } from "../../src/seccomp/bpf";
import { forContainer, parseDockerProfile } from "../../src/seccomp/docker-profile";
import { CLONE_NAMESPACE_FLAGS } from "../../src/linux/namespaces";
import { ALLOWED_SYSCALLS, defaultSeccompProfile, REFUSED_SYSCALLS } from "../../src/seccomp/profile";
import { AUDIT_ARCH_X86_64, SYSCALLS_X86_64 } from "../../src/seccomp/syscalls-x86_64";
import { DEFAULT_CAPABILITIES } from "../../src/spec/defaults";
import type { SeccompOperator } from "../../src/spec/oci";

const ALLOW = 0x7fff0000;
const errno = (n: number) => 0x00050000 | n;
const KILL = 0x80000000;
const EPERM = errno(1);
const ENOSYS = errno(38);

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
      case 0x05: pc += 1 + k; break; // ja +k
      case 0x15: pc += 1 + (acc === k ? jt : jf); break; // jeq #k
      case 0x25: pc += 1 + (acc > k ? jt : jf); break; // jgt #k
      case 0x35: pc += 1 + (acc >= k ? jt : jf); break; // jge #k
      case 0x06: return k; // ret #k
      default: throw new Error(`unexpected opcode ${op}`);
    }
  }
  throw new Error("fell off the end of the program");
}

const filter = compileSeccomp(defaultSeccompProfile(DEFAULT_CAPABILITIES), "x64");
const nr = (name: string) => SYSCALLS_X86_64[name]!;

describe("the default profile: an allow list", () => {
  test("every listed call is allowed, and only calls on the list or guarded by an argument rule are", () => {
    for (const name of ALLOWED_SYSCALLS) expect([name, run(filter, nr(name))]).toEqual([name, ALLOW]);
    const allowedAnyhow = new Set([...ALLOWED_SYSCALLS, "ioctl", "socket", "personality", "clone"]);
    for (const [name, number] of Object.entries(SYSCALLS_X86_64)) {
      if (!allowedAnyhow.has(name)) expect([name, run(filter, number)]).not.toEqual([name, ALLOW]);
    }
  });
  test("a call the table does not know (a newer kernel's) is refused with ENOSYS", () => {
    expect(run(filter, 470)).toBe(ENOSYS);
    expect(run(filter, 1000)).toBe(ENOSYS);
  });
  test("host-reaching calls get EPERM", () => {
    for (const name of ["mount", "umount2", "unshare", "setns", "kexec_load", "init_module", "bpf", "keyctl", "reboot", "io_uring_setup", "open_by_handle_at", "pivot_root", ...REFUSED_SYSCALLS]) {
      expect([name, run(filter, nr(name))]).toEqual([name, EPERM]);
    }
  });
  test("capabilities open their calls: CAP_SYS_ADMIN allows mount and namespaces, CAP_SYS_TIME the clock", () => {
    const admin = compileSeccomp(defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_TIME"]), "x64");
    for (const name of ["mount", "umount2", "unshare", "setns", "settimeofday", "clock_settime"]) expect([name, run(admin, nr(name))]).toEqual([name, ALLOW]);
    expect(run(admin, nr("clone"), [0x10000000n | 17n])).toBe(ALLOW);
    expect(run(admin, nr("keyctl"))).toBe(EPERM); // refused whatever the capabilities
    expect(run(filter, nr("settimeofday"))).toBe(EPERM);
  });
  test("clone: threads and processes allowed, new namespaces refused; clone3 says ENOSYS", () => {
    const CLONE_THREAD_FLAGS = 0x3d0f00n;
    expect(run(filter, nr("clone"), [CLONE_THREAD_FLAGS])).toBe(ALLOW);
    expect(run(filter, nr("clone"), [17n /* SIGCHLD */])).toBe(ALLOW);
    expect(run(filter, nr("clone"), [0x10000000n | 17n])).toBe(EPERM); // CLONE_NEWUSER
    expect(run(filter, nr("clone"), [BigInt(CLONE_NAMESPACE_FLAGS)])).toBe(EPERM);
    expect(run(filter, nr("clone3"))).toBe(ENOSYS);
  });
  test("TIOCSTI and TIOCLINUX are refused, also with junk in the upper 32 bits; other ioctls pass", () => {
    expect(run(filter, nr("ioctl"), [0n, 0x5412n])).toBe(EPERM);
    expect(run(filter, nr("ioctl"), [0n, 0xdead00000000n | 0x5412n])).toBe(EPERM);
    expect(run(filter, nr("ioctl"), [0n, 0x541cn])).toBe(EPERM);
    expect(run(filter, nr("ioctl"), [0n, 0x5413n /* TIOCGWINSZ */])).toBe(ALLOW);
  });
  test("AF_VSOCK sockets are refused; others pass; personality only the usual values", () => {
    expect(run(filter, nr("socket"), [40n])).toBe(errno(97));
    expect(run(filter, nr("socket"), [(1n << 32n) | 40n])).toBe(errno(97));
    expect(run(filter, nr("socket"), [2n])).toBe(ALLOW);
    for (const value of [0x0n, 0x8n, 0x20000n, 0xffffffffn]) expect(run(filter, nr("personality"), [value])).toBe(ALLOW);
    expect(run(filter, nr("personality"), [0x0400000n /* READ_IMPLIES_EXEC */])).toBe(EPERM);
  });
  test("another architecture is killed; x32 calls get ENOSYS", () => {
    expect(run(filter, 1, [], 0x40000003 /* i386 */)).toBe(KILL);
    expect(run(filter, 0x40000000 + 1)).toBe(ENOSYS);
  });
});

describe("compiler", () => {
  test("unknown flags, other architectures, bad values are one-line errors; unknown names are skipped", () => {
    const base = { defaultAction: "SCMP_ACT_ALLOW" as const, architectures: ["SCMP_ARCH_X86_64"] };
    // A name this architecture lacks is skipped, as libseccomp does; the default profile's names are all real (test above).
    expect(run(compileSeccomp({ ...base, syscalls: [{ names: ["socketcall"], action: "SCMP_ACT_ERRNO" }] }, "x64"), 1)).toBe(ALLOW);
    expect(() => compileSeccomp({ ...base, flags: ["SECCOMP_FILTER_FLAG_NOPE"], syscalls: [] }, "x64")).toThrow(SeccompError);
    expect(() => compileSeccomp({ ...base, syscalls: [] }, "arm64")).toThrow("no syscall table for architecture arm64");
    expect(() => compileSeccomp({ ...base, syscalls: [{ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }] }, "x64")).toThrow("index 6");
    expect(() => compileSeccomp({ ...base, syscalls: [{ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 2 ** 60, op: "SCMP_CMP_EQ" }] }] }, "x64")).toThrow("exact integers");
  });
  test("every comparison operator, on 64-bit values, agrees with arithmetic", () => {
    const samples = [0n, 1n, 7n, 8n, 9n, 0xffffffffn, 1n << 32n, (1n << 32n) + 8n, (5n << 32n) + 3n, (1n << 64n) - 1n];
    const reference: Record<string, (a: bigint, v: bigint) => boolean> = {
      SCMP_CMP_EQ: (a, v) => a === v, SCMP_CMP_NE: (a, v) => a !== v, SCMP_CMP_LT: (a, v) => a < v,
      SCMP_CMP_LE: (a, v) => a <= v, SCMP_CMP_GT: (a, v) => a > v, SCMP_CMP_GE: (a, v) => a >= v,
    };
    for (const [op, holds] of Object.entries(reference)) {
      for (const value of [8n, (1n << 32n) + 8n]) {
        const program = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [
          { names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 2, value, op: op as SeccompOperator }] },
        ] }, "x64");
        for (const a of samples) expect([op, value, a, run(program, nr("personality"), [0n, 0n, a])]).toEqual([op, value, a, holds(a, value) ? errno(13) : ALLOW]);
      }
    }
    const masked = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [
      { names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 0, value: (0xf0n << 32n) | 0xffn, valueTwo: (0x10n << 32n) | 0x08n, op: "SCMP_CMP_MASKED_EQ" }] },
    ] }, "x64");
    expect(run(masked, nr("personality"), [(0x1an << 32n) | 0x108n])).toBe(errno(13));
    expect(run(masked, nr("personality"), [(0x2an << 32n) | 0x108n])).toBe(ALLOW);
  });
  test("all the rules of one call are tried in order; a call with many rules still compiles", () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ names: ["personality"], action: "SCMP_ACT_ERRNO" as const, errnoRet: i + 1, args: [{ index: 0, value: i, op: "SCMP_CMP_EQ" as const }] }));
    const program = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: many }, "x64");
    for (let i = 0; i < 20; i++) expect(run(program, nr("personality"), [BigInt(i)])).toBe(errno(i + 1));
    expect(run(program, nr("personality"), [99n])).toBe(ALLOW);
  });
});

describe("docker-format profile files", () => {
  const profile = parseDockerProfile(JSON.stringify({
    defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] }],
    syscalls: [
      { names: ["read", "write", "exit_group", "socketcall", "_llseek"], action: "SCMP_ACT_ALLOW" },
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["getpid"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["uname"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "99.0" } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
      { names: ["modify_ldt"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm64"] } },
      { names: ["getppid"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd64"] } },
    ],
  }), "test.json");
  test("includes and excludes are decided against the container's capabilities and kernel; other arches' names are left out", () => {
    const plain = compileSeccomp(forContainer(profile, DEFAULT_CAPABILITIES, [6, 18]), "x64");
    expect(run(plain, nr("read"))).toBe(ALLOW);
    expect(run(plain, nr("mount"))).toBe(EPERM);
    expect(run(plain, nr("getpid"))).toBe(ALLOW);
    expect(run(plain, nr("uname"))).toBe(EPERM);
    expect(run(plain, nr("arch_prctl"))).toBe(ALLOW); // docker names arches as Go does: amd64
    expect(run(plain, nr("modify_ldt"))).toBe(EPERM);
    expect(run(plain, nr("getppid"))).toBe(EPERM);
    const admin = compileSeccomp(forContainer(profile, ["CAP_SYS_ADMIN"], [6, 18]), "x64");
    expect(run(admin, nr("mount"))).toBe(ALLOW);
    expect(run(admin, nr("getpid"))).toBe(EPERM);
  });
  test("a bad profile is one line naming the field", () => {
    expect(() => parseDockerProfile("{", "p.json")).toThrow(/^invalid seccomp profile p.json: not JSON/);
    expect(() => parseDockerProfile(JSON.stringify({ defaultAction: "SCMP_ACT_NOPE" }), "p.json")).toThrow("invalid seccomp profile p.json: defaultAction: unsupported action");
    expect(() => parseDockerProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }] }] }), "p.json"))
      .toThrow("syscalls[0].args[0].value must be a non-negative integer");
  });
});
