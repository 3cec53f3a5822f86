// Resource limits: the OCI runtime-spec `linux.resources` types diyc uses, and
// the parser from CLI flag values to them.
//
// The field names are the spec's own (linux.resources.memory.limit, .cpu.quota,
// ...), so a bundle's config.json and diyc's flags feed the same cgroup code
// (src/cgroups). Values are checked here, once, so a bad value is a one-line
// UsageError before anything is created, never an EINVAL from cgroupfs later.

import { UsageError } from "../linux/errors";

/** linux.resources.memory. Bytes; -1 means unlimited. */
export interface LinuxMemory {
  limit?: number;
  /** Memory plus swap, in total (the spec's meaning, as v1 memory.memsw). Equal to limit: no swap. */
  swap?: number;
}

/** linux.resources.cpu. */
export interface LinuxCPU {
  /** Relative weight, 2..262144 (v1 cpu.shares; v2 cpu.weight is derived from it). */
  shares?: number;
  /** Microseconds of CPU time the group may use per period. */
  quota?: number;
  /** Microseconds. */
  period?: number;
  /** A cpu list like "0-1,3". */
  cpus?: string;
  /** A memory node list like "0". */
  mems?: string;
}

/** linux.resources.pids. -1 means unlimited. */
export interface LinuxPids {
  limit: number;
}

/**
 * linux.resources.devices beyond the standard allow-list every container
 * gets: in order, an allow or a deny each (an OCI config's leading "deny
 * all" is what every container starts from, and is left out).
 */
export interface LinuxDeviceRule {
  allow: boolean;
  type: "a" | "c" | "b";
  major: number | "*";
  minor: number | "*";
  access: string;
}

/** linux.resources.blockIO: a weight, and per-device throttles ("MAJOR:MINOR" limits). */
export interface LinuxBlockIO {
  weight?: number;
  weightDevice?: { major: number; minor: number; weight: number }[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** linux.resources.hugepageLimits: bytes of huge pages of one size ("2MB"). */
export interface LinuxHugepageLimit {
  pageSize: string;
  limit: number;
}

export interface LinuxResources {
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  devices?: LinuxDeviceRule[];
  /** Applied by the OCI runtime in cgroups of their own (src/cgroups/v1/side.ts); the container drivers ignore it. */
  blockIO?: LinuxBlockIO;
  /** Likewise. */
  hugepageLimits?: LinuxHugepageLimit[];
  /** cgroup v2 files by name ("memory.high": "1G"), written by the OCI runtime after the drivers' limits. */
  unified?: Record<string, string>;
}

/** The raw strings of the resource flags, as the CLI found them (undefined = not given). */
export interface ResourceFlagValues {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

export interface MachineFacts {
  /** CPUs online on this host (`navigator.hardwareConcurrency`, or /sys/devices/system/cpu/online). */
  onlineCpus: number;
}

const MiB = 1024 * 1024;
/** Below this the kernel's own charges (page tables, the exec) OOM-kill the init at once; docker refuses it too. */
export const MIN_MEMORY_BYTES = 6 * MiB;
/** CFS period diyc uses for --cpus, as docker does: 100 ms. */
export const CPU_PERIOD_US = 100_000;
/** The kernel refuses a CFS quota below 1 ms. */
const MIN_CPU_QUOTA_US = 1000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;

/** Turns CLI flag values into linux.resources; throws a one-line UsageError on any bad value. */
export function parseResourceFlags(values: ResourceFlagValues, machine: MachineFacts): LinuxResources {
  const resources: LinuxResources = {};

  if (values.memory !== undefined) {
    const limit = parseMemory("--mem", values.memory, false);
    if (limit < MIN_MEMORY_BYTES) {
      throw new UsageError(`invalid --mem ${JSON.stringify(values.memory)}: the minimum memory limit is 6m`);
    }
    // No --memory-swap: swap is disabled, as the seed did. memory+swap = memory.
    let swap = limit;
    if (values.memorySwap !== undefined) {
      swap = parseMemory("--memory-swap", values.memorySwap, true);
      if (swap !== -1 && swap < limit) {
        throw new UsageError(
          `invalid --memory-swap ${JSON.stringify(values.memorySwap)}: it is memory plus swap, so it must be at least --mem (${values.memory}), or -1 for unlimited swap`,
        );
      }
    }
    resources.memory = { limit, swap };
  } else if (values.memorySwap !== undefined) {
    throw new UsageError("--memory-swap needs --mem: it is the total of memory and swap");
  }

  const cpu: LinuxCPU = {};
  if (values.cpus !== undefined) {
    const cpus = parseDecimal("--cpus", values.cpus, "a number of CPUs like 1.5");
    if (cpus <= 0) throw new UsageError(`invalid --cpus ${JSON.stringify(values.cpus)}: it must be more than 0`);
    if (cpus > machine.onlineCpus) {
      throw new UsageError(
        `invalid --cpus ${JSON.stringify(values.cpus)}: this machine has ${machine.onlineCpus} CPU${machine.onlineCpus === 1 ? "" : "s"}`,
      );
    }
    const quota = Math.round(cpus * CPU_PERIOD_US);
    if (quota < MIN_CPU_QUOTA_US) {
      throw new UsageError(`invalid --cpus ${JSON.stringify(values.cpus)}: the minimum is 0.01`);
    }
    cpu.quota = quota;
    cpu.period = CPU_PERIOD_US;
  }
  if (values.cpuShares !== undefined) {
    const shares = parseInteger("--cpu-shares", values.cpuShares, `an integer from ${MIN_SHARES} to ${MAX_SHARES}`);
    if (shares < MIN_SHARES || shares > MAX_SHARES) {
      throw new UsageError(
        `invalid --cpu-shares ${JSON.stringify(values.cpuShares)}: use an integer from ${MIN_SHARES} to ${MAX_SHARES}`,
      );
    }
    cpu.shares = shares;
  }
  if (values.cpusetCpus !== undefined) {
    cpu.cpus = parseCpuList(values.cpusetCpus, machine.onlineCpus);
  }
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  if (values.pidsLimit !== undefined) {
    const text = values.pidsLimit.trim();
    // -1 is allowed here, so any other negative number gets the general hint.
    if (text !== "-1" && (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text)))) {
      throw new UsageError(`invalid --pids-limit ${JSON.stringify(values.pidsLimit)}: use a positive integer, or -1 for unlimited`);
    }
    resources.pids = { limit: Number(text) };
  }
  return resources;
}

const unitBytes: Record<string, number> = { b: 1, k: 1024, m: MiB, g: 1024 * MiB };

/** "512" (megabytes), "512m", "1g", "1.5G", "65536k", "8388608b"; "-1" only where allowed. */
export function parseMemory(flag: string, text: string, allowUnlimited: boolean): number {
  const trimmed = text.trim();
  if (allowUnlimited && trimmed === "-1") return -1;
  refuseNegative(flag, text);
  const match = /^(\d+(?:\.\d+)?)([bkmg])?$/i.exec(trimmed);
  const hint = `use megabytes (512) or a size with a unit b, k, m or g (512m, 1g)${allowUnlimited ? ", or -1 for unlimited" : ""}`;
  if (!match) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: ${hint}`);
  const bytes = Math.floor(Number(match[1]) * unitBytes[(match[2] ?? "m").toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: too large`);
  return bytes;
}

/** "-5" gets its own message: "use a number" would not say what is wrong with it. */
function refuseNegative(flag: string, text: string): void {
  if (/^\s*-\d/.test(text)) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: it must not be negative`);
}

function parseInteger(flag: string, text: string, hint: string): number {
  const trimmed = text.trim();
  refuseNegative(flag, text);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: use ${hint}`);
  }
  return Number(trimmed);
}

function parseDecimal(flag: string, text: string, hint: string): number {
  const trimmed = text.trim();
  refuseNegative(flag, text);
  if (!/^\d+(?:\.\d+)?$/.test(trimmed)) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: use ${hint}`);
  return Number(trimmed);
}

/** Checks a cpu list ("0-1,3") against the machine and returns it without spaces. */
export function parseCpuList(text: string, onlineCpus: number): string {
  const list = text.replace(/\s+/g, "");
  const bad = (why: string) =>
    new UsageError(`invalid --cpuset-cpus ${JSON.stringify(text)}: ${why}`);
  if (list === "") throw bad("use a list of CPUs like 0-1,3");
  for (const part of list.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw bad(`${JSON.stringify(part)} is not a CPU number or a range like 0-3`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw bad(`the range ${part} runs backwards`);
    if (last >= onlineCpus) {
      throw bad(`CPU ${last} does not exist: this machine has CPUs 0-${onlineCpus - 1}`);
    }
  }
  return list;
}
