// bpf(2), for the one program diyc loads: a cgroup v2 device filter
// (src/cgroups/v2/devices.ts builds it; this file only hands it to the kernel).
//
// Two commands: BPF_PROG_LOAD, where the kernel's verifier checks the program
// and returns an fd for it, and BPF_PROG_ATTACH, which attaches it to a cgroup
// directory's fd. The attachment holds its own reference, so both fds can be
// closed at once; the program lives until the cgroup is removed.

import { ptr } from "bun:ffi";
import { DiycError } from "./errors";
import { check, cString, symbols } from "./libc";

/** The bpf system call's number, per architecture (asm/unistd_64.h). */
const SYS_BPF: Partial<Record<NodeJS.Architecture, number>> = { x64: 321, arm64: 280 };

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
/**
 * Several programs may be attached to one cgroup and its ancestors, and a
 * device access must pass all of them: systemd may have one on a parent, and
 * ours adds to it rather than replacing or being refused (runc does the same).
 */
const BPF_F_ALLOW_MULTI = 2;

function bpf(command: number, attr: Uint8Array, what: string, path: string): number {
  const number = SYS_BPF[process.arch];
  if (number === undefined) throw new DiycError(`bpf ${what} ${path}: not supported on ${process.arch}`);
  return check(`bpf ${what}`, Number(symbols.syscall(number, command, attr, attr.length)), path);
}

/**
 * Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (struct bpf_insn[]) and returns
 * its fd. `path` (the cgroup it is for) only names it in errors.
 */
export function loadDeviceProgram(instructions: Uint8Array, path: string): number {
  const license = cString("MIT");
  // union bpf_attr for BPF_PROG_LOAD, up to prog_flags; the rest stays zero.
  const attr = new Uint8Array(48);
  const view = new DataView(attr.buffer);
  view.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true); // prog_type
  view.setUint32(4, instructions.length / 8, true); // insn_cnt
  view.setBigUint64(8, BigInt(ptr(instructions)), true); // insns
  view.setBigUint64(16, BigInt(ptr(license)), true); // license
  return bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD", path);
}

/** Attaches a loaded device program to the cgroup whose directory `cgroupFd` is. */
export function attachDeviceProgram(cgroupFd: number, programFd: number, path: string): void {
  // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
  const attr = new Uint8Array(16);
  const view = new DataView(attr.buffer);
  view.setUint32(0, cgroupFd, true);
  view.setUint32(4, programFd, true);
  view.setUint32(8, BPF_CGROUP_DEVICE, true);
  view.setUint32(12, BPF_F_ALLOW_MULTI, true);
  bpf(BPF_PROG_ATTACH, attr, "BPF_PROG_ATTACH", path);
}
