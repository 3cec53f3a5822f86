// `diyc run -v` from tests that must know the pids a run made: the init and
// the monitor, read from the -v trace, so that the test can stop exactly the
// processes it started and prove afterwards that they are gone. Shared by the
// cgroup v1 limits tests (test/integration/limits.test.ts) and the cgroup v2
// ones that run inside the test VM (test/vm/guest/cgroups-v2.guest.ts).

import { expect } from "bun:test";
import { DIYC, diyc, diycEnv, pidsFromTrace, processExists, until, type Result } from "./diyc";

/** The parent cgroup of a store, computed here independently of src/: diyc-<first 10 hex of sha256(root)>. */
export function cgroupParentOf(root: string): string {
  return `diyc-${new Bun.CryptoHasher("sha256").update(root).digest("hex").slice(0, 10)}`;
}

export const uniqueName = (prefix: string) => `${prefix}${process.pid}${Math.random().toString(36).slice(2, 8)}`;

const isTrace = (line: string) => line.startsWith("HOST| ") || line.startsWith("CONTAINER| ");

/**
 * `diyc --root ROOT run -v ARGS...`: the result with the trace lines taken out of stderr (what a run
 * without -v prints); the init and monitor pids are pushed onto `pids` for the test's clean-up check.
 */
export function runTraced(root: string, args: string[], pids?: number[]): Result {
  const r = diyc(root, ["run", "-v", ...args]);
  const found = pidsFromTrace(r.stderr);
  if (found) pids?.push(found.init, found.monitor);
  return { ...r, stderr: r.stderr.split(/(?<=\n)/).filter((line) => !isTrace(line)).join("") };
}

/** A container running in the background with -v: its stdout and stderr, as they arrive. */
export interface Background {
  proc: ReturnType<typeof Bun.spawn>;
  init: number;
  monitor: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stdout contains `text`. */
  waitStdout: (text: string, timeoutMs?: number) => Promise<void>;
  /** SIGKILL to the init (unless diyc run has returned), then the exit status of `diyc run`. */
  stop: () => Promise<number>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
}

export { until };

/**
 * `diyc run -v ARGS` in the background; returns once -v has printed the init's pid (pushed, with the
 * monitor's, onto `pids`). `waitMs` bounds each wait: longer in the emulated VM, where all is slower.
 */
export async function startTraced(root: string, args: string[], pids: number[] | undefined, waitMs = 10_000): Promise<Background> {
  const proc = Bun.spawn([DIYC, "--root", root, "run", "-v", ...args], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", env: diycEnv(root),
  });
  let out = "";
  let err = "";
  const done = Promise.all([
    collect(proc.stdout as ReadableStream<Uint8Array>, (t) => (out += t)),
    collect(proc.stderr as ReadableStream<Uint8Array>, (t) => (err += t)),
  ]);
  await until(() => pidsFromTrace(err) !== undefined || proc.exitCode !== null, waitMs, "the -v line with the init's pid");
  const found = pidsFromTrace(err);
  if (!found) throw new Error(`diyc run exited early (${proc.exitCode}): ${err}`);
  pids?.push(found.init, found.monitor);
  return {
    proc,
    ...found,
    stdout: () => out,
    stderr: () => err,
    waitStdout: (text, timeoutMs = waitMs) => until(() => out.includes(text) || proc.exitCode !== null, timeoutMs, JSON.stringify(text)),
    stop: async () => {
      // Only while diyc run waits for it: once that has returned, the pid may belong to someone else.
      if (proc.exitCode === null) {
        try {
          process.kill(found.init, "SIGKILL");
        } catch {
          // it has just exited
        }
      }
      const code = await proc.exited;
      await done;
      expect(processExists(found.init)).toBe(false);
      expect(processExists(found.monitor)).toBe(false);
      return code;
    },
  };
}
