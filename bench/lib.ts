// What the bench scripts share: option parsing, statistics, timed and
// stamped runs of a command, and the checks and facts every report needs.
// Each script stays readable on its own; only the mechanics live here.

import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The repository root (bench/ is one level below it). */
export const REPO = resolve(import.meta.dir, "..");

// ---------------------------------------------------------------------------
// Options

/** Reports a bad argument or an unmet requirement, with the usage line, and exits 2. */
export type Usage = (message: string) => never;

/** A Usage that prints `name: message`, then `synopsis`, to stderr. */
export function makeUsage(name: string, synopsis: string): Usage {
  return (message: string): never => {
    console.error(`${name}: ${message}`);
    console.error(synopsis);
    process.exit(2);
  };
}

/** What a flag's handler can take from the arguments that follow it. */
export interface FlagArgs {
  /** The next argument as a positive integer; a usage error otherwise. */
  count(): number;
  /** The next argument as it is; a usage error, saying it needs `what`, if there is none. */
  value(what: string): string;
}

/**
 * Walks `argv` (without the runtime and script), calling the handler of each
 * flag; a flag without one is a usage error.
 */
export function parseFlags(argv: string[], usage: Usage, flags: Record<string, (args: FlagArgs) => void>): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const handler = Object.hasOwn(flags, arg) ? flags[arg] : undefined;
    if (!handler) usage(`unknown argument ${arg}`);
    handler({
      count: () => {
        const n = Number(argv[++i]);
        if (!Number.isInteger(n) || n < 1) usage(`${arg} needs a positive integer`);
        return n;
      },
      value: (what) => argv[++i] ?? usage(`${arg} needs ${what}`),
    });
  }
}

// ---------------------------------------------------------------------------
// Statistics and formatting

/** Percentile by linear interpolation between closest ranks (p in 0..100); NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export const median = (values: number[]): number => percentile(values, 50);

/** Milliseconds for the tables: one decimal, or two for the short ones. */
export const f1 = (n: number): string => n.toFixed(1);
export const f2 = (n: number): string => n.toFixed(2);

// ---------------------------------------------------------------------------
// Running commands

export interface SpawnOptions {
  /** The environment of the command; the bench's own by default. */
  env?: Record<string, string>;
  /** Where its stdout goes (default "pipe"); its stderr is always read. */
  stdout?: "pipe" | "ignore";
}

export interface Timed {
  /** Wall time from spawn to exit. */
  ms: number;
  /** wait4's ru_maxrss: the peak of the process and the descendants it reaped. */
  maxRssKiB: number;
}

/**
 * Runs a command to completion and times it; throws with its stderr if it
 * fails. spawnSync keeps the measuring side tight (no event-loop wake-ups
 * between exit and the clock); the cost of fork+exec from Bun is the same for
 * every command compared, so it cancels in differences and ratios.
 */
export function timedRun(argv: string[], options: SpawnOptions = {}): Timed {
  const start = performance.now();
  const proc = spawnSync(argv, { stdin: "ignore", stdout: options.stdout ?? "pipe", stderr: "pipe", env: options.env });
  const ms = performance.now() - start;
  if (!proc.success) {
    throw new Error(`${argv.join(" ")} failed (exit ${proc.exitCode}): ${proc.stderr.toString().trim()}`);
  }
  return { ms, maxRssKiB: Math.round(proc.resourceUsage.maxRSS / 1024) };
}

/** One line of a command's stderr and when it reached us (ms since spawn). */
export interface Stamped {
  ms: number;
  line: string;
}

export interface StampedRun {
  /** Complete stderr lines; lines read in one chunk share a stamp. An unterminated last line is dropped. */
  lines: Stamped[];
  exitCode: number;
  /** When the exit was seen (ms since spawn). */
  exitMs: number;
}

/**
 * Runs a command and stamps each stderr line as it arrives, for `-v` traces:
 * where the time goes, measured from outside. Does not throw on failure; the
 * caller decides what a failed run means.
 */
export async function stampedRun(argv: string[], options: Pick<SpawnOptions, "env"> = {}): Promise<StampedRun> {
  const start = performance.now();
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: options.env });
  const lines: Stamped[] = [];
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    const ms = performance.now() - start;
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const line of parts) lines.push({ ms, line });
  }
  const exitCode = await proc.exited;
  return { lines, exitCode, exitMs: performance.now() - start };
}

// ---------------------------------------------------------------------------
// The machine and what is left on it

/** Mount points at `dir` or below it: a directory with any must never be removed recursively. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/mounts", "utf8").split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target === dir || target.startsWith(`${dir}/`));
}

/** The running kernel's release, e.g. 6.1.0-18-amd64. */
export function kernelRelease(): string {
  return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
}

/**
 * The cgroup2 mount of a hybrid host (systemd puts it here). crun 1.8 refuses
 * such a host (it sees cgroup2 beside the v1 controllers), so the benches run
 * it where that mount is gone: a private mount namespace of its own.
 */
export const UNIFIED_CGROUP = "/sys/fs/cgroup/unified";

export function unifiedCgroupMounted(): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8").includes(` ${UNIFIED_CGROUP} `);
}

/**
 * `argv` run in a private mount namespace without the hybrid host's cgroup2
 * mount (the host's mounts are untouched), or `argv` itself where there is
 * none. On this host the wrapper (unshare, sh, umount) costs a few ms per
 * command: measure `withoutUnifiedCgroup(["true"])` beside what it wraps.
 */
export function withoutUnifiedCgroup(argv: string[]): string[] {
  if (!unifiedCgroupMounted()) return argv;
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", `umount ${UNIFIED_CGROUP} && exec "$0" "$@"`, ...argv];
}

/** The number of CPUs listed in /proc/cpuinfo. */
export function cpuCount(): number {
  return readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((line) => line.startsWith("processor")).length;
}
