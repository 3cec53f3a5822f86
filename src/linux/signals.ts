// Signal names and numbers (x86-64 and most architectures), for kill and stop.

import { UsageError } from "./errors";

export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20,
  TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};

/** "TERM", "SIGTERM", "sigterm" or "15" → 15; real-time ones as runc takes them: RTMIN, RTMIN+3, RTMAX-1. */
export function parseSignal(text: string): number {
  if (/^\d{1,2}$/.test(text)) {
    const number = Number(text);
    if (number >= 1 && number <= 64) return number;
  }
  const name = text.toUpperCase().replace(/^SIG/, "");
  const realtime = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (realtime) {
    const n = (realtime[1] === "MIN" ? 34 : 64) + (realtime[2] === "-" ? -1 : 1) * Number(realtime[3] ?? 0);
    if (n >= 34 && n <= 64) return n;
  }
  const number = SIGNALS[name];
  if (number === undefined) throw new UsageError(`invalid signal ${JSON.stringify(text)}: use a name like TERM or a number`);
  return number;
}
