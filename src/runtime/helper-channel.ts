// diyc's side of the protocol with the C helper. The ladder diagram and the
// message numbers are in native/protocol.h; this file mirrors them.
//
// Set-up messages are read with blocking reads: diyc has nothing else to do
// while the helper works, and it keeps start latency low. The final EXIT is
// awaited asynchronously, so signal handlers can run while the container does.

import { read as readAsync, readFileSync, readSync, writeSync } from "node:fs";
// The helper binary, embedded in the compiled diyc (bun build --compile) or
// read from native/build/ when running from source.
import helperFile from "../../native/build/diyc-helper" with { type: "file" };
import { DiycError, Errno, errnoName, errnoText, ExitCode } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import { exitCodeOf } from "../linux/wait-status";
import { framePlan } from "../plan/encode";
import { argOf, type Plan } from "../plan/ops";

export const Sync = {
  Continue: 1,
  Start: 2,
  /** diyc gives up and undoes its own steps: the helper kills the init, without the cleanup hook. */
  Abort: 3,
  /** After EXIT: diyc has cleaned up; without it the helper runs the cleanup hook. */
  Done: 4,
  /** helper -> init only: a detached idmapped mount; diyc never sees it. */
  MountFd: 13,
  Ready: 10,
  Error: 11,
  /** Carries the pty master to the helper, which keeps it: diyc never receives this one. */
  Terminal: 12,
  Pid: 20,
  Started: 21,
  Exit: 22,
  HelperError: 23,
} as const;

/** enum helper_step in native/protocol.h, as -v and errors name them. */
export const HELPER_STEPS: Record<number, string> = {
  1: "read the plan",
  2: "decode the plan",
  3: "clone",
  4: "socketpair",
  5: "pipe",
  6: "the init ended during set-up",
  7: "connect to the console socket and send it the terminal",
  8: "read the init's messages",
};

const MESSAGE_SIZE = 16;

export interface SyncMessage {
  type: number;
  a: number;
  b: number;
}

/** native/build/diyc-helper, built by `npm ci` (native/Makefile). */
export const HELPER_PATH: string = helperFile;

/** A step of the plan failed inside the container: names the step and errno. */
export class PlanStepError extends DiycError {
  constructor(
    readonly step: string,
    readonly errno: number,
    exitCode: number = ExitCode.RuntimeError,
  ) {
    super(`${step}: ${errnoText(errno)} (${errnoName(errno)})`, exitCode);
    this.name = "PlanStepError";
  }
}

type Stdio = "inherit" | "ignore" | number;

/** The fd the helper's own image arrives on; it closes it first thing. */
const HELPER_IMAGE_FD = 4;
let helperImage: number | undefined;

/** One sealed copy of the helper per diyc process. */
function sealedHelperImage(syscalls: Syscalls): number {
  if (helperImage !== undefined) return helperImage;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(HELPER_PATH);
  } catch {
    throw new DiycError(`the helper ${HELPER_PATH} is missing: run npm ci (it builds native/)`);
  }
  helperImage = syscalls.sealedMemfd("diyc-helper", bytes);
  return helperImage;
}

/** The helper as its channel knows it: a process this diyc spawned, or one a diyc before an execve did (`adopt`). */
export interface HelperProcess {
  readonly pid: number;
  /** Settles once the helper has exited (and is reaped). */
  readonly exited: Promise<unknown>;
  /** This diyc may exit while the helper runs on. */
  unref(): void;
}

export class HelperChannel {
  private constructor(
    /** diyc's end of the socket; a foreground run hands it to diyc-wait (src/runtime/hand-off.ts). */
    readonly fd: number,
    private readonly syscalls: Syscalls,
    readonly helper: HelperProcess,
    /** The plan the helper runs, to name a failed step; unknown to a diyc that adopted the channel. */
    private readonly plan?: Plan,
  ) {}

  /**
   * The channel of a helper started by the diyc that ran in this process
   * before an execve (a foreground run's wait, src/runtime/hand-off.ts): its
   * end of the socket is `fd`, and the helper is our child still.
   */
  static adopt(fd: number, helperPid: number, syscalls: Syscalls): HelperChannel {
    syscalls.setCloseOnExec(fd, true); // it came through an execve open: nothing we start may hold it
    const helper: HelperProcess = {
      pid: helperPid,
      // Read when awaited, not before: the helper exits once it has DONE, or has already.
      get exited() {
        return Promise.resolve(syscalls.waitChild(helperPid));
      },
      unref() {},
    };
    return new HelperChannel(fd, syscalls, helper);
  }

  /**
   * Spawns the helper with our end of a socketpair as its fd 3, and sends it the
   * plan. stdio is the container's: inherited from diyc by default.
   */
  /** `preserved`: fds of ours the helper gets from fd 5 on (OCI --preserve-fds; the plan's PreserveFds says how many). */
  static open(plan: Plan, encoded: Uint8Array, syscalls: Syscalls, stdio: readonly [Stdio, Stdio, Stdio] = ["inherit", "inherit", "inherit"], preserved: number[] = []): HelperChannel {
    const image = sealedHelperImage(syscalls);
    const [ours, theirs] = syscalls.socketpair();
    let helper: ReturnType<typeof Bun.spawn>;
    try {
      // The helper runs from a sealed memfd, passed as its fd 4 and executed
      // through /proc/self/fd/4: no file on disk that a container could reach
      // and overwrite (CVE-2019-5736), and no write can change it, even by root.
      helper = Bun.spawn([`/proc/self/fd/${HELPER_IMAGE_FD}`], { argv0: "diyc-helper", stdio: [...stdio, theirs, image, ...preserved], env: {} });
    } catch (error) {
      syscalls.close(ours);
      syscalls.close(theirs);
      throw new DiycError(`cannot start the helper ${HELPER_PATH}: ${(error as Error).message} (run npm ci to build it)`);
    }
    syscalls.close(theirs);
    const channel = new HelperChannel(ours, syscalls, helper, plan);
    writeAll(ours, framePlan(encoded));
    return channel;
  }

  send(type: number): void {
    const msg = Buffer.alloc(MESSAGE_SIZE);
    msg.writeUInt32LE(type, 0);
    writeAll(this.fd, msg);
  }

  /** The next message, or undefined if the helper closed the socket. */
  receive(): SyncMessage | undefined {
    const buf = Buffer.alloc(MESSAGE_SIZE);
    let got = 0;
    while (got < MESSAGE_SIZE) {
      const n = readSync(this.fd, buf, got, MESSAGE_SIZE - got, null);
      if (n === 0) return undefined;
      got += n;
    }
    return decode(buf);
  }

  /** Like receive(), without blocking the event loop (signals keep flowing). */
  receiveAsync(): Promise<SyncMessage | undefined> {
    const buf = Buffer.alloc(MESSAGE_SIZE);
    return new Promise((resolve, reject) => {
      const step = (got: number) => {
        readAsync(this.fd, buf, got, MESSAGE_SIZE - got, null, (error, n) => {
          if (error) return reject(error);
          if (n === 0) return resolve(undefined);
          if (got + n < MESSAGE_SIZE) return step(got + n);
          resolve(decode(buf));
        });
      };
      step(0);
    });
  }

  /** Whether a message (or EOF) is there to read within `timeoutMs`, without reading it; "interrupted" by a signal. */
  pollReadable(timeoutMs: number): "readable" | "timeout" | "interrupted" {
    return this.syscalls.pollReadable(this.fd, timeoutMs);
  }

  /** Expects `type`; turns ERROR, HELPER_ERROR and EOF into DiycErrors naming the step. */
  expect(type: number, what: string): SyncMessage {
    const msg = this.receive();
    if (msg?.type === type) return msg;
    throw this.failure(msg, what);
  }

  failure(msg: SyncMessage | undefined, what: string): DiycError {
    if (!msg) return new DiycError(`the helper exited before it could ${what}`);
    if (msg.type === Sync.HelperError) {
      return new PlanStepError(`helper: ${HELPER_STEPS[msg.a] ?? `step ${msg.a}`}`, msg.b);
    }
    if (msg.type === Sync.Error) {
      const op = this.plan?.ops[msg.a];
      if (op?.code === "Exec" || op?.code === "FindExec") {
        // 127 for "not found", 126 for "found but cannot run", as shells do.
        // FindExec (the OCI door's check before the barrier) has the same file and search.
        const search = argOf(op, "search");
        const notFound = msg.b === Errno.ENOENT || msg.b === Errno.ENOTDIR;
        if (notFound && search !== "") {
          return new DiycError(`exec ${JSON.stringify(argOf(op, "file"))}: executable file not found in $PATH`, ExitCode.NotFound);
        }
        return new PlanStepError(`exec ${JSON.stringify(argOf(op, "file"))}`, msg.b, notFound ? ExitCode.NotFound : ExitCode.CannotExecute);
      }
      // An OCI hook the init ran: it failed or was killed at its timeout.
      if (op?.code === "RunHook" && msg.b === Errno.ECANCELED) return new DiycError(`${op.describe} failed`);
      if (op?.code === "RunHook" && msg.b === Errno.ETIMEDOUT) return new DiycError(`${op.describe} timed out after ${argOf(op, "timeout_s")} s`);
      return new PlanStepError(op?.describe || `step ${msg.a}`, msg.b);
    }
    return new DiycError(`unexpected message ${msg.type} from the helper while waiting to ${what}`);
  }

  /**
   * The whole protocol in one go, for a process diyc waits for (exec, nsexec):
   * `prepare` runs with the new process's host pid while it waits at the
   * barrier (id maps, cgroup); then continue, start, and wait for the exit.
   * Returns the exit code; the helper is gone when it returns or throws.
   */
  async runToExit(prepare: (pid: number) => void): Promise<number> {
    await this.runUntilStarted(prepare);
    try {
      const exit = await this.receiveAsync();
      if (exit?.type !== Sync.Exit) throw this.failure(exit, "report the exit status");
      return exitCodeOf(exit.a);
    } finally {
      this.done();
      await this.helper.exited;
    }
  }

  /**
   * The protocol up to the exec: for a process diyc does not wait for (a plan
   * with Leave: the helper exits once it runs). Returns its host pid.
   */
  async runUntilStarted(prepare: (pid: number) => void): Promise<number> {
    let pid: number;
    try {
      pid = this.expect(Sync.Pid, "clone").a;
      prepare(pid);
      this.send(Sync.Continue);
      this.expect(Sync.Ready, "set up the process");
      this.send(Sync.Start);
      this.expect(Sync.Started, "start the command");
    } catch (error) {
      this.abort();
      await this.helper.exited;
      throw error;
    }
    return pid;
  }

  /** Closing our end without a word tells the helper diyc is gone: it cleans up with the plan's hook. */
  close(): void {
    this.syscalls.close(this.fd);
  }

  /** We give up and undo our own steps: the helper kills the init and exits without the hook. */
  abort(): void {
    try {
      this.send(Sync.Abort);
    } catch {
      // best effort: a helper that is already gone needs no word
    }
    this.close();
  }

  /** The exit was handled (cleaned up): the helper may exit without running the hook. */
  done(): void {
    try {
      this.send(Sync.Done);
    } catch {
      // best effort: the helper may have exited; then it ran the hook, which is idempotent
    }
    this.close();
  }
}

function decode(buf: Buffer): SyncMessage {
  return { type: buf.readUInt32LE(0), a: buf.readInt32LE(4), b: buf.readInt32LE(8) };
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}
