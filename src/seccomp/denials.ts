// Which calls a container's seccomp filter refused, as the kernel logged them
// (a filter loaded with SECCOMP_FILTER_FLAG_LOG, under -v). The kernel writes
// one audit record per refusal:
//   audit: type=1326 audit(...): ... pid=21638 comm="mkdir" exe="/bin/busybox"
//     sig=0 arch=c000003e syscall=83 compat=0 ip=0x47b567 code=0x50000
// where code is the filter's action (0x50000: errno, 0x80000000: kill).

import { SYSCALLS_X86_64 } from "./syscalls-x86_64";

export interface SeccompDenial {
  pid: number;
  command: string;
  syscall: string;
  action: string;
}

const NAMES = new Map(Object.entries(SYSCALLS_X86_64).map(([name, nr]) => [nr, name]));

const ACTIONS: Record<number, string> = {
  0x00000000: "killed the thread", 0x80000000: "killed the process", 0x00030000: "trapped",
  0x00050000: "refused with an errno", 0x7ff00000: "traced", 0x7ffc0000: "logged",
};

/** A seccomp audit record, or undefined for any other kernel message. */
export function parseSeccompRecord(text: string): SeccompDenial | undefined {
  if (!/\btype=1326\b/.test(text)) return undefined;
  const field = (name: string) => new RegExp(`\\b${name}=("[^"]*"|\\S+)`).exec(text)?.[1]?.replace(/^"|"$/g, "");
  const pid = Number(field("pid"));
  const nr = Number(field("syscall"));
  const code = Number(field("code"));
  if (!Number.isInteger(pid) || !Number.isInteger(nr)) return undefined;
  return {
    pid,
    command: field("comm") ?? "?",
    syscall: NAMES.get(nr) ?? `syscall ${nr}`,
    action: ACTIONS[(code & 0xffff0000) >>> 0] ?? `action ${field("code")}`,
  };
}
