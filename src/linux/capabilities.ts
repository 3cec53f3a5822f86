// Capability names and numbers, from include/uapi/linux/capability.h.
// The plan carries bit masks; -v and the spec use the names.

import { readFileSync } from "node:fs";
import { DiycError } from "./errors";

/** The highest capability number this kernel knows; bits above it cannot be dropped. */
export function lastCapability(): number {
  return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
}

export const CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
  "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
  "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
  "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

export type CapabilityName = (typeof CAPABILITIES)[number];

export function capabilityNumber(name: string): number | undefined {
  const index = (CAPABILITIES as readonly string[]).indexOf(name.toUpperCase());
  return index < 0 ? undefined : index;
}

/** A 64-bit mask with a bit per named capability; unknown names throw. */
export function capabilityMask(names: string[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const number = capabilityNumber(name);
    if (number === undefined) throw new DiycError(`unknown capability ${name}`);
    mask |= 1n << BigInt(number);
  }
  return mask;
}

/** The names in a mask, for -v and /proc/self/status comparisons. */
/** Every capability this kernel has (up to cap_last_cap). */
export function kernelCapabilities(): string[] {
  return CAPABILITIES.slice(0, lastCapability() + 1);
}

export function capabilityNames(mask: bigint): string[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/**
 * The capabilities this process holds (CapPrm in /proc/self/status): what it
 * can give a container. "ALL" means these, as podman's --privileged gives
 * "every capability the host has"; a capability we lack cannot be granted.
 */
export function ownCapabilities(): string[] {
  const line = /^CapPrm:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return line ? capabilityNames(BigInt(`0x${line[1]}`)) : [...CAPABILITIES];
}

