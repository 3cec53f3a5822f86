// Scheduling policy and I/O priority of a process (OCI process.scheduler,
// process.ioPriority), as the kernel's structures. The runtime applies them
// from the host to the parked init, before it runs anything of its own: they
// are kept across execve and inherited by the container's every process.

import { UsageError } from "./errors";

const POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
const FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** struct sched_attr (SCHED_ATTR_SIZE_VER0, 48 bytes) for sched_setattr(2). */
export function schedAttr(s: Scheduler, field = "process.scheduler"): Uint8Array {
  const policy = POLICIES[s.policy];
  if (policy === undefined) throw new UsageError(`config.json: ${field}.policy: unknown policy ${JSON.stringify(s.policy)}`);
  let flags = 0;
  for (const name of s.flags ?? []) {
    const bit = FLAGS[name];
    if (bit === undefined) throw new UsageError(`config.json: ${field}.flags: unknown flag ${JSON.stringify(name)}`);
    flags |= bit;
  }
  const nice = s.nice ?? 0;
  if (nice < -20 || nice > 19) throw new UsageError(`config.json: ${field}.nice: must be from -20 to 19`);
  const attr = Buffer.alloc(48);
  attr.writeUInt32LE(48, 0);
  attr.writeUInt32LE(policy, 4);
  attr.writeBigUInt64LE(BigInt(flags), 8);
  attr.writeInt32LE(nice, 16);
  attr.writeUInt32LE(s.priority ?? 0, 20);
  attr.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  attr.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  attr.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return attr;
}

/** The ioprio_set(2) value: class << 13 | level. */
export function ioprioValue(p: { class: string; priority: number }, field = "process.ioPriority"): number {
  const ioClass = IO_CLASSES[p.class];
  if (ioClass === undefined) throw new UsageError(`config.json: ${field}.class: unknown class ${JSON.stringify(p.class)}`);
  if (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 7) throw new UsageError(`config.json: ${field}.priority: must be from 0 to 7`);
  return (ioClass << 13) | p.priority;
}
