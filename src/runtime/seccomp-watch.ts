// -v: say which calls the container's seccomp filter refused. The filter is
// loaded with SECCOMP_FILTER_FLAG_LOG (plan/compile.ts), the kernel logs each
// refusal, and this reads the kernel's log while the container runs. A record
// is the container's when its pid is the init, lives in the init's pid
// namespace, or is already gone (a short-lived command, such as `mount` in a
// script, has exited by the time we read). Only filters loaded with the log
// flag write these records, so a gone pid is almost surely ours; another
// `diyc run -v` at the same moment could mix in. What the kernel drops (its
// printk rate limit) is not seen.

import { statSync } from "node:fs";
import { KernelLog } from "../linux/kernel-log";
import type { Trace } from "../linux/trace";
import { parseSeccompRecord } from "../seccomp/denials";

const POLL_MS = 50;

function pidNamespace(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/pid`).ino;
  } catch {
    return undefined; // gone already
  }
}

export interface SeccompWatch {
  /** Reads what is left and stops. */
  stop(): void;
}

export function watchSeccompDenials(initPid: number, trace: Trace): SeccompWatch {
  const log = KernelLog.fromNow();
  if (!log) {
    trace.host("seccomp refusals are not reported: the kernel's log (/dev/kmsg) cannot be read");
    return { stop() {} };
  }
  const namespace = pidNamespace(initPid);
  const drain = () => {
    for (const text of log.read()) {
      const denial = parseSeccompRecord(text);
      if (!denial) continue;
      const theirs = denial.pid === initPid ? namespace : pidNamespace(denial.pid);
      if (theirs !== undefined && theirs !== namespace) continue; // a live process of another namespace
      trace.container(`seccomp: ${denial.command} (pid ${denial.pid} on the host) called ${denial.syscall}: ${denial.action}`);
    }
  };
  const timer = setInterval(drain, POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      drain();
      log.close();
    },
  };
}
