// A run recorded for the front (native/front.c, src/runtime/prepared.ts):
// when the front found no recipe for this command, it exec'd diyc with
// DIYC_PREPARE=PATH at the end of the environment; a covered run records its
// steps and writes them to PATH once it has cleaned up.

import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Syscalls } from "../linux/syscalls";
import type { RunRequest } from "../runtime/container";
import { hostMountinfo } from "../runtime/limits";
import {
  buildFiles, mountLinesOfTypes, PREPARE_VARIABLE, preparedDir, StartRecording, uncoveredBy, type EnvironmentRead,
} from "../runtime/prepared";
import type { RunOutcome } from "../runtime/run";
import { imageLayout } from "../image/images";
import type { CliContext } from "./context";
import { WHOLE_ENVIRONMENT } from "./env-reads";

/**
 * The inputs a recipe is keyed by, as the front computes them (front.c
 * read_inputs): the command line exactly as the process got it
 * (/proc/self/cmdline), the working directory, the ids, which of fds 0-2 are
 * terminals, whether the process is its terminal's foreground, its
 * capability sets and the CPUs it may run on. The environment is not among them: the recipe lists the
 * variables the run read (finishRecording).
 */
function inputsOf(syscalls: Syscalls): string | undefined {
  const cmdline = utf8Only(readFileSync("/proc/self/cmdline"));
  const cwd = utf8Only(readlinkSync("/proc/self/cwd", { encoding: "buffer" }));
  // The capability sets (--cap-add ALL) and the CPUs we may run on (--cpus, --cpuset-cpus are checked against them).
  const status = readFileSync("/proc/self/status", "utf8").split("\n")
    .filter((line) => line.startsWith("Cap") || line.startsWith("Cpus_allowed_list:")).join("\n");
  const ttys = [0, 1, 2].map((fd) => (syscalls.isatty(fd) ? "1" : "0")).join("");
  const ids = [process.getuid!(), process.geteuid!(), process.getgid!(), process.getegid!()].join(",");
  if (cmdline === undefined || cwd === undefined) return undefined;
  return [`argv ${cmdline}`, `cwd ${cwd}`, `ids ${ids}`, `tty ${ttys}`, `fg ${syscalls.inTerminalForeground() ? 1 : 0}`, status].join("\n");
}

/**
 * The bytes as text, if they are UTF-8: the recipe is UTF-8 text and the
 * front compares bytes, so a command line or directory in another encoding
 * is not recorded (it would miss every time).
 */
function utf8Only(bytes: Buffer): string | undefined {
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : undefined;
}

/**
 * A recording for this run, or undefined: not asked for by the front, asked
 * for another store (the front guessed the store from --root and DIYC_ROOT;
 * a wrong guess is only a miss), or a run the front cannot replay.
 */
export function startRecording(
  ctx: CliContext, request: RunRequest, verbose: boolean, nameGenerated: boolean, filesRead: readonly string[],
): StartRecording | undefined {
  const at = ctx.env?.[PREPARE_VARIABLE];
  if (at === undefined || dirname(at) !== preparedDir(ctx.store)) return undefined;
  // A replay would give every run the name this one drew.
  if (nameGenerated) return undefined;
  if (uncoveredBy(request, ctx.store, verbose) !== undefined) return undefined;
  const build = buildFiles(ctx.diycCommand);
  if (build.length === 0 || !build.every((file) => existsSync(file))) return undefined;
  const tracked = ctx.environment;
  if (!tracked) return undefined;
  // The variables the run read, with the values it found (not the front's own request).
  const environment = (): EnvironmentRead[] | undefined => (tracked.reads.has(WHOLE_ENVIRONMENT) ? undefined
    : [...tracked.reads].filter((name) => name !== PREPARE_VARIABLE).sort().map((name) => [name, tracked.values[name]] as const));
  const inputs = inputsOf(ctx.syscalls);
  if (inputs === undefined) return undefined;
  const recording = StartRecording.start(at, inputs, environment);
  // What the run's decisions came from, beyond the inputs: the build, the store, the
  // image names, the capability count, our own cgroup (the priming), the cgroup mounts.
  for (const file of build) recording.sameFile(file);
  recording.sameFile(ctx.store.root);
  const refs = imageLayout(ctx.store).refsFile;
  if (existsSync(refs)) recording.sameFile(refs);
  else recording.absent(refs);
  // Files the command line named, read for the request (--env-file), and the host's resolver
  // configuration (copied into the container, and read for --dns-search alone).
  for (const file of filesRead) recording.sameFile(file);
  if (existsSync("/etc/resolv.conf")) recording.sameFile("/etc/resolv.conf");
  else recording.absent("/etc/resolv.conf");
  recording.sameText("/proc/sys/kernel/cap_last_cap");
  recording.sameText("/proc/self/cgroup");
  recording.add("mounts", "cgroup,cgroup2", mountLinesOfTypes(hostMountinfo()));
  return recording;
}

/**
 * Writes the recipe, if the run went as one that can be replayed; `printed`
 * is what the command then prints (a detached run's name), its status 0.
 */
export function finishRecording(recording: StartRecording | undefined, outcome: RunOutcome, printed?: string): void {
  if (outcome.processOomKilled || outcome.cancelled) recording?.refuse("the run did not end as recorded");
  if (outcome.exitCode === undefined) {
    recording?.add("print", printed ?? "");
    recording?.add("exit", "0");
  }
  recording?.save();
}
