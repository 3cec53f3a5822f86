// Start latency of `diyc run` against `runc run` and `crun run`, side by side in one run.
//
//   node_modules/.bin/bun bench/start-latency.ts [--runs N] [--warmup N] [--profile] [--throughput] [--floor] [--no-hyperfine] [--rev COMMIT]
//
// Needs root, and: runc and crun (required), hyperfine and time (optional second
// opinions), busybox-static (diyc's built-in image is made from /bin/busybox).
//   apt-get install -y runc crun hyperfine busybox-static time
//
// The three runtimes start /bin/true from the same busybox rootfs: the one diyc
// assembles for its built-in image, which the runc (and crun) bundle points at
// (read-only). The commands are timed interleaved, diyc, runc, crun, so
// that noise on this small shared machine lands on all equally; the figure
// that matters is the ratio of medians. crun refuses this hybrid cgroup host,
// so it runs in a private mount namespace without the cgroup2 mount
// (lib.ts withoutUnifiedCgroup); that wrapper is timed alone in the same
// rounds and its median subtracted. --throughput adds containers started per
// second with 1, 2, 4 and 8 at once. --floor adds a fourth command, the floor
// of a start path without Bun (bench/c-floor.c: diyc's own plan, prepared in
// advance, run by the helper from a C driver; needs cc and strace). See bench/README.md.

import { spawnSync } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseCgroupMounts } from "../src/cgroups/detect";
import { cpuCount, kernelRelease, makeUsage, median, mountsUnder, parseFlags, percentile, REPO, stampedRun, type Timed, timedRun, unifiedCgroupMounted, withoutUnifiedCgroup } from "./lib";

const BUN = process.execPath;
const RESULTS = join(import.meta.dir, "results", "start-latency.md");
// Every runc container id starts with this, so cleanup finds ours and only ours.
const RUNC_PREFIX = `diyc-bench-${process.pid}-`;

interface Options {
  runs: number;
  warmup: number;
  profile: boolean;
  /** Also time bench/c-floor.c: the same container without Bun. */
  floor: boolean;
  /** Containers per second with 1, 2, 4, 8 at once; this many rounds per level. */
  throughputRounds?: number;
  hyperfine: boolean;
  /** Measure this commit (exported to the temporary directory) instead of the working tree. */
  rev?: string;
}

/** The diyc being measured. */
interface Target {
  /** Its checkout: the repository, or an export of --rev. */
  root: string;
  diyc: string;
  helper: string;
  version: string;
}

const usage = makeUsage("start-latency", "usage: bun bench/start-latency.ts [--runs N] [--warmup N] [--profile] [--throughput] [--throughput-rounds N] [--floor] [--no-hyperfine] [--rev COMMIT]");

function parseOptions(argv: string[]): Options {
  const options: Options = { runs: 100, warmup: 5, profile: false, floor: false, hyperfine: true };
  parseFlags(argv, usage, {
    "--runs": (args) => { options.runs = args.count(); },
    "--warmup": (args) => { options.warmup = args.count(); },
    "--profile": () => { options.profile = true; },
    "--throughput": () => { options.throughputRounds ??= 5; },
    "--floor": () => { options.floor = true; },
    "--throughput-rounds": (args) => { options.throughputRounds = args.count(); },
    "--no-hyperfine": () => { options.hyperfine = false; },
    "--rev": (args) => { options.rev = args.value("a commit"); },
  });
  return options;
}

/** The first executable of that name on PATH (plus sbin, where Debian puts runc). */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Runs a command for its output; throws with its stderr if it fails. */
function run(argv: string[], options: { cwd?: string } = {}): string {
  const proc = spawnSync(argv, { cwd: options.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (!proc.success) throw new Error(`${argv.join(" ")} failed (exit ${proc.exitCode}): ${proc.stderr.toString().trim()}`);
  return proc.stdout.toString();
}

interface Summary {
  median: number;
  p10: number;
  p90: number;
  rssKiB: number;
}

function summarize(results: Timed[], rssKiB: number): Summary {
  const ms = results.map((r) => r.ms);
  return { median: median(ms), p10: percentile(ms, 10), p90: percentile(ms, 90), rssKiB };
}

/** The runc bundle: runc's own default spec, edited to match what diyc run does by default. */
function writeRuncBundle(bundle: string, rootfs: string): void {
  mkdirSync(bundle, { recursive: true });
  run(["runc", "spec", "--bundle", bundle]);
  const path = join(bundle, "config.json");
  const spec = JSON.parse(readFileSync(path, "utf8"));
  spec.process.args = ["/bin/true"];
  spec.process.terminal = false; // no tty here, and diyc's run is not given one either
  // Read-only keeps runc from writing into the rootfs diyc uses as its overlay lowerdir.
  spec.root = { path: rootfs, readonly: true };
  spec.hostname = "bench";
  // diyc's default: new pid, mount, uts, ipc and cgroup namespaces; the host's network.
  spec.linux.namespaces = ["pid", "mount", "uts", "ipc", "cgroup"].map((type) => ({ type }));
  writeFileSync(path, JSON.stringify(spec, null, "\t"));
}

function ourRuncContainers(): string[] {
  return run(["runc", "list", "-q"]).split("\n").filter((id) => id.startsWith(RUNC_PREFIX));
}

/** crun with its state under the temporary directory, on the cgroup view it accepts (see the top). */
const crunArgv = (tmp: string, ...args: string[]): string[] => withoutUnifiedCgroup(["crun", "--root", join(tmp, "crun-state"), ...args]);

/**
 * Leaves nothing behind: our runc containers deleted, no mounts under the
 * temporary directory, the directory removed. Returns what it found wrong.
 */
function cleanup(tmp: string, diyc?: string): string[] {
  const problems: string[] = [];
  // A failed --floor run leaves its container's cgroups: diyc removes what it has under the name.
  if (diyc && existsSync(join(tmp, "store", "containers", FLOOR_NAME))) spawnSync([diyc, "--root", join(tmp, "store"), "rm", "-f", FLOOR_NAME]);
  for (const id of ourRuncContainers()) {
    problems.push(`runc container ${id} was left; deleted it`);
    spawnSync(["runc", "delete", "--force", id]);
  }
  if (existsSync(join(tmp, "crun-state"))) {
    for (const id of run(crunArgv(tmp, "list", "-q")).split("\n").filter((id) => id.startsWith(RUNC_PREFIX))) {
      problems.push(`crun container ${id} was left; deleted it`);
      spawnSync(crunArgv(tmp, "delete", "--force", id));
    }
  }
  const mounts = mountsUnder(tmp);
  if (mounts.length > 0) {
    // Never rm -r across a mount: it would delete through into what is mounted.
    problems.push(`mounts left under ${tmp}: ${mounts.join(", ")}; not removing it`);
    return problems;
  }
  // Unlink the shared node_modules first: the recursive removal must never reach the repository's copy.
  if (existsSync(join(tmp, "diyc", "node_modules"))) unlinkSync(join(tmp, "diyc", "node_modules"));
  rmSync(tmp, { recursive: true, force: true });
  return problems;
}

/** /usr/bin/time -f %M: the peak RSS of the command in KiB, as the time package reports it. */
/** Peak RSS under time(1); `argv` may be a function, for a command that must differ each time (first runs). */
function rssWithTime(time: string, command: string[] | (() => string[]), samples: number): number {
  const peaks: number[] = [];
  for (let i = 0; i < samples; i++) {
    const argv = typeof command === "function" ? command() : command;
    const proc = spawnSync([time, "-f", "%M", ...argv], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    if (!proc.success) throw new Error(`${argv.join(" ")} failed under time: ${proc.stderr.toString().trim()}`);
    const lines = proc.stderr.toString().trim().split("\n");
    peaks.push(Number(lines[lines.length - 1]));
  }
  return median(peaks);
}

/** Median wall time of a command over `runs` runs, after 3 unmeasured ones. */
function medianOf(argv: string[], runs: number, mustSucceed = true): number {
  const ms: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const start = performance.now();
    const proc = spawnSync(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const elapsed = performance.now() - start;
    if (mustSucceed && !proc.success) throw new Error(`${argv.join(" ")} failed (exit ${proc.exitCode})`);
    if (i >= 3) ms.push(elapsed);
  }
  return median(ms);
}

/**
 * Where diyc's time goes, measured from outside without perturbing it:
 * the medians of commands that each do a prefix of what `diyc run` does,
 * and the arrival time of each -v trace line in one verbose run.
 */
async function profile(target: Target, store: string, runs: number, tmp: string): Promise<string[]> {
  const lines: string[] = [];
  // The reference for build/diyc: a compiled program that only loads node:fs, built the same way.
  const empty = join(tmp, "empty");
  writeFileSync(`${empty}.ts`, 'import { writeSync } from "node:fs"; writeSync(1, "");\n');
  run([BUN, "build", "--compile", "--bytecode", `${empty}.ts`, "--outfile", empty]);
  const stages: [string, string[]][] = [
    ["`bun -e 1`: Bun start-up alone", [BUN, "-e", "1"]],
    // diyc's run path imports these Node built-ins at load time; each is a JS module Bun builds on import.
    ["`bun -e 'require(\"node:fs\")'`", [BUN, "-e", "require('node:fs')"]],
    ["`bun -e 'require(\"node:zlib\")'` (image/tar.ts)", [BUN, "-e", "require('node:zlib')"]],
    ["`bun -e 'require(\"node:child_process\")'` (image/images.ts)", [BUN, "-e", "require('node:child_process')"]],
    ["`bun -e 'require(\"node:net\")'` (cli/run.ts, now only with --dns or --add-host)", [BUN, "-e", "require('node:net')"]],
    ["`bun -e 'require(\"node:crypto\")'` (network/)", [BUN, "-e", "require('node:crypto')"]],
    // The first write to process.stdout/stderr builds a Node WriteStream; `diyc run -v`, errors and --help pay it.
    ["`bun -e 'process.stderr.write(\"\")'`", [BUN, "-e", "process.stderr.write('')"]],
    ["`sh -c 'exec bun -e 1'`: Bun through a sh launcher, as bin/diyc does", ["sh", "-c", `exec '${BUN}' -e 1`]],
    // Imports the whole CLI without running a command: the load-time cost of diyc's module graph.
    ["`bun -e 'await import(\"src/cli/main.ts\")'`: Bun + loading diyc's modules", [BUN, "-e", `await import(${JSON.stringify(join(target.root, "src/cli/main.ts"))})`]],
    ["a program that loads node:fs, compiled as build/diyc is (`bun build --compile --bytecode`)", [empty]],
    ["`bin/diyc --version`: the same plus diyc's modules (and bin/diyc's sh launcher)", [target.diyc, "--version"]],
    // --print-plan on empty input fails by design; only its exec cost matters here.
    ["`diyc-helper --print-plan < /dev/null`: exec of the C helper", [target.helper, "--print-plan"]],
    ["`bin/diyc run --rm bench busybox /bin/true`: the whole run", [target.diyc, "--root", store, "run", "--rm", "bench", "busybox", "/bin/true"]],
  ];
  lines.push("| stage | median (ms) |", "|---|---:|");
  for (const [label, argv] of stages) {
    lines.push(`| ${label} | ${medianOf(argv, runs, argv[0] !== target.helper).toFixed(1)} |`);
  }

  // One verbose run: stamp each trace line as it reaches us.
  const traced = await stampedRun([target.diyc, "--root", store, "run", "-v", "--rm", "profile", "busybox", "/bin/true"]);
  const stamp = (ms: number, line: string) => `${ms.toFixed(1).padStart(7)} ms  ${line}`;
  const stamped = traced.lines.map((s) => stamp(s.ms, s.line));
  stamped.push(stamp(traced.exitMs, `(diyc exited, status ${traced.exitCode})`));
  lines.push("", "One `diyc run -v`, each trace line stamped when it arrived (-v itself adds a little):", "", "```");
  // The CONTAINER| steps are many and arrive in a few chunks; the first and last of each burst suffice.
  lines.push(...condense(stamped), "```");
  return lines;
}

/** Keeps HOST| lines and the first and last of each run of CONTAINER| lines. */
function condense(stamped: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < stamped.length; i++) {
    const line = stamped[i]!;
    const isContainer = line.includes("CONTAINER|");
    const prevContainer = i > 0 && stamped[i - 1]!.includes("CONTAINER|");
    const nextContainer = i + 1 < stamped.length && stamped[i + 1]!.includes("CONTAINER|");
    if (!isContainer || !prevContainer || !nextContainer) out.push(line);
    else if (!out[out.length - 1]!.endsWith("...")) out.push("            ...");
  }
  return out;
}

/** Containers each worker starts in a row, per round of --throughput. */
const PER_WORKER = 10;
const CONCURRENCY = [1, 2, 4, 8];

/**
 * Containers started per second with 1, 2, 4 and 8 at once. A worker is one
 * sh running its runtime's command PER_WORKER times in a row; a round starts
 * N workers together and times them until the last is done. The runtimes
 * alternate round by round. crun's workers each run inside one wrapper (see
 * the top), so the wrapper is paid once per worker, not per container.
 */
async function throughput(commands: Record<string, (worker: number) => string[]>, rounds: number): Promise<string[]> {
  const names = Object.keys(commands);
  // A failed run is counted, not fatal: the worker's exit status is how many
  // failed, and its stderr (a successful run prints nothing) says why.
  const loop = `i=0; f=0; while [ $i -lt ${PER_WORKER} ]; do "$@" >/dev/null || f=$((f+1)); i=$((i+1)); done; exit $f`;
  const errors: string[] = [];
  const workerArgv = (name: string, worker: number) => {
    const argv = ["sh", "-c", loop, "sh", ...commands[name]!(worker)];
    return name === "crun" ? withoutUnifiedCgroup(argv) : argv;
  };
  const lines = [
    `Each round: N workers at once, each running \`run --rm … /bin/true\` ${PER_WORKER} times in a row (a sh loop); containers per second = N × ${PER_WORKER} / the round's wall time. Median of ${rounds} rounds; the runtimes alternate round by round.`,
    "",
    `| at once | ${names.map((n) => `${n} (containers/s)`).join(" | ")} | ${names.slice(1).map((n) => `diyc / ${n}`).join(" | ")} |`,
    `|---:|${names.map(() => "---:").join("|")}|${names.slice(1).map(() => "---:").join("|")}|`,
  ];
  for (const n of CONCURRENCY) {
    console.error(`throughput: ${n} at once, ${rounds} rounds`);
    const rates: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    const failures: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const start = performance.now();
        const workers = Array.from({ length: n }, (_, worker) =>
          Bun.spawn(workerArgv(name, worker), { stdin: "ignore", stdout: "ignore", stderr: "pipe" }));
        const codes = await Promise.all(workers.map((p) => p.exited));
        const seconds = (performance.now() - start) / 1000;
        const failed = codes.reduce((sum, code) => sum + (code ?? PER_WORKER), 0);
        failures[name]! += failed;
        if (failed > 0) {
          for (const worker of workers) {
            const text = (await new Response(worker.stderr).text()).trim();
            if (text) errors.push(`${name}, ${n} at once: ${text.split("\n")[0]}`);
          }
        }
        rates[name]!.push((n * PER_WORKER - failed) / seconds);
      }
    }
    const medians = names.map((name) => median(rates[name]!));
    const cell = (name: string, i: number) => `${medians[i]!.toFixed(1)}${failures[name] ? ` (${failures[name]} of ${rounds * n * PER_WORKER} failed)` : ""}`;
    lines.push(`| ${n} | ${names.map(cell).join(" | ")} | ${medians.slice(1).map((m) => `${(medians[0]! / m).toFixed(2)}×`).join(" | ")} |`);
  }
  lines.push("", "diyc / X here is a ratio of rates: above 1 diyc starts more containers per second. A failed run counts as no container started.");
  if (errors.length > 0) lines.push("", "Failed runs said:", "", ...errors.map((e) => `- ${e}`));
  return lines;
}

/** The container name the floor uses in the bench's store: its plan, files and cgroups are diyc's for this name. */
const FLOOR_NAME = "floor";
/** Made by the monitor or the overlay, not by diyc before the helper starts. */
const MADE_BY_OTHERS = new Set(["exit.json", "container.log"]);

/** A script line of bench/c-floor.c: fields separated by tabs, text with \n, \t and \\ escaped. */
const step = (...fields: string[]) => fields.map((f) => f.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t")).join("\t");

/** Where diyc primes the cgroup migration (src/runtime/limits.ts primeCgroupMigration): our own cgroup in the first v1 hierarchy. */
function primePath(): string {
  const [controller, mountpoint] = [...parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8")).v1][0] ?? [];
  if (!controller) throw new Error("--floor: no cgroup v1 hierarchy (the script follows diyc's v1 steps)");
  const own = readFileSync("/proc/self/cgroup", "utf8").split("\n").map((line) => line.split(":"))
    .find(([, controllers]) => controllers?.split(",").includes(controller))?.[2] ?? "/";
  return `${mountpoint}${own === "/" ? "" : own}/cgroup.procs`;
}

/**
 * The framed plan diyc sends its helper for `diyc run --rm floor busybox
 * /bin/true`, read back from strace: the write that starts with a length and
 * the plan's magic (src/plan/encode.ts). Exactly diyc's bytes, not a copy of its compiler's inputs.
 */
function capturePlan(diyc: string, store: string, tmp: string): Uint8Array {
  const log = join(tmp, "plan.strace");
  run(["strace", "-f", "-qq", "-e", "trace=write", "-xx", "-s", "1000000", "-o", log, diyc, "--root", store, "run", "--rm", FLOOR_NAME, "busybox", "/bin/true"]);
  const magic = Buffer.from("DIYCPLAN").toString("hex");
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const match = /write\(\d+, "((?:\\x[0-9a-f]{2})+)"/.exec(line);
    if (!match) continue;
    const bytes = Buffer.from(match[1]!.replace(/\\x/g, ""), "hex");
    if (bytes.length > 12 && bytes.subarray(4, 12).toString("hex") === magic && bytes.readUInt32LE(0) === bytes.length - 4) return bytes;
  }
  throw new Error(`no framed plan in ${log}`);
}

/**
 * The script of bench/c-floor.c: what diyc does on the host for the same
 * container, in its order. The container's files as a kept run of the name
 * leaves them (sizes matter, not contents), the cgroup steps from a -v
 * trace, and the plan from capturePlan.
 */
function floorScript(diyc: string, store: string, tmp: string): string {
  const planFile = join(tmp, "floor.plan");
  writeFileSync(planFile, capturePlan(diyc, store, tmp));
  const dir = join(store, "containers", FLOOR_NAME);
  run([diyc, "--root", store, "run", FLOOR_NAME, "busybox", "/bin/true"]);
  const files = readdirSync(dir, { withFileTypes: true });
  const lines = [step("prime", primePath())];
  lines.push(step("mkdir", dir, "700"));
  for (const entry of files.filter((e) => e.isDirectory())) lines.push(step("mkdir", join(dir, entry.name), "755"));
  for (const entry of files.filter((e) => e.isFile() && !MADE_BY_OTHERS.has(e.name))) {
    lines.push(step("file", join(dir, entry.name), readFileSync(join(dir, entry.name), "utf8")));
  }
  lines.push(step("file", join(dir, "exit.json.reserve"), `${" ".repeat(127)}\n`));
  run([diyc, "--root", store, "rm", FLOOR_NAME]);
  const traced = spawnSync([diyc, "--root", store, "run", "-v", "--rm", FLOOR_NAME, "busybox", "/bin/true"], { stdout: "ignore", stderr: "pipe" });
  if (!traced.success) throw new Error(`diyc run -v failed: ${traced.stderr.toString()}`);
  let spawned = false;
  for (const line of traced.stderr.toString().split("\n")) {
    const cgroup = /^HOST\| cgroup (mkdir|write|rmdir) (\S+)(?: (".*"))?$/.exec(line);
    if (!cgroup) continue;
    const [, verb, path, value] = cgroup;
    if (!spawned) {
      // diyc makes the cgroup while the helper starts and clones.
      lines.push(step("plan", planFile), step("spawn"));
      spawned = true;
    }
    if (verb === "write" && path!.endsWith("/cgroup.procs")) lines.push(step("procs", path!));
    else if (verb === "write") lines.push(step("write", path!, JSON.parse(value!) as string));
    else lines.push(step(verb!, path!, verb === "mkdir" ? "755" : ""));
  }
  lines.push(step("rmtree", dir));
  return `${lines.join("\n")}\n`;
}

function hyperfineSummary(hyperfine: string, diycCmd: string[], runcCmd: string[], tmp: string): { text: string; table: string } {
  const exportPath = join(tmp, "hyperfine.md");
  // -N: no intermediate shell, so neither command pays for one.
  const out = run([hyperfine, "--warmup", "5", "--runs", "30", "-N", "--style", "basic",
    "--export-markdown", exportPath, "-n", "diyc", diycCmd.join(" "), "-n", "runc", runcCmd.join(" ")]);
  return { text: out.trim(), table: readFileSync(exportPath, "utf8").trim() };
}

function firstLine(argv: string[]): string {
  try {
    return run(argv).split("\n")[0]!.trim();
  } catch {
    return "unknown";
  }
}

/** Which diyc was measured: the commit, and whether its code had uncommitted changes. */
function workingTreeVersion(): string {
  try {
    // --no-optional-locks: never take index.lock, other people are committing in this repo.
    const head = run(["git", "--no-optional-locks", "-C", REPO, "rev-parse", "--short", "HEAD"]).trim();
    const dirty = run(["git", "--no-optional-locks", "-C", REPO, "status", "--porcelain", "--", "src", "native", "bin"]).trim();
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return "unknown (not a git checkout)";
  }
}

/**
 * The working tree, or with --rev a clean export of that commit with its own
 * helper build: a benchmark of exactly one version, unaffected by edits in
 * progress in the working tree. It shares the repository's node_modules.
 */
function prepareTarget(rev: string | undefined, tmp: string): Target {
  if (rev === undefined) {
    return { root: REPO, diyc: join(REPO, "bin", "diyc"), helper: join(REPO, "native", "build", "diyc-helper"), version: workingTreeVersion() };
  }
  const root = join(tmp, "diyc");
  mkdirSync(root);
  const commit = run(["git", "--no-optional-locks", "-C", REPO, "rev-parse", "--short", `${rev}^{commit}`]).trim();
  run(["sh", "-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", REPO, commit, root]);
  symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
  run(["make", "-s", "-C", join(root, "native")]);
  // bin/diyc runs build/diyc when there is one (the compiled binary, since
  // 288d793's follow-up), else the sources through Bun: build it, as npm ci would.
  if (JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts?.build) {
    run(["npm", "run", "-s", "build"], { cwd: root });
  }
  return { root, diyc: join(root, "bin", "diyc"), helper: join(root, "native", "build", "diyc-helper"), version: `${commit} (--rev ${rev})` };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage("needs root (both runtimes create namespaces and mounts)");
  if (!which("runc")) usage("runc not found: apt-get install -y runc");
  if (!which("crun")) usage("crun not found: apt-get install -y crun");
  if (!existsSync("/bin/busybox")) usage("/bin/busybox not found (diyc's built-in image): apt-get install -y busybox-static");
  const hyperfine = options.hyperfine ? which("hyperfine") : undefined;
  const time = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

  const tmp = mkdtempSync(join(tmpdir(), "diyc-bench-"));
  const store = join(tmp, "store");
  const bundle = join(tmp, "bundle");
  let report = "";
  let diycForCleanup: string | undefined;
  try {
    const target = prepareTarget(options.rev, tmp);
    diycForCleanup = target.diyc;
    if (!existsSync(target.helper)) throw new Error(`${target.helper} missing: make -C native`);
    // The first run assembles the busybox image: this is the shared rootfs.
    run([target.diyc, "--root", store, "run", "--rm", "warm", "busybox", "true"]);
    // The built-in image's one layer: images/layers/*/root since the layered
    // store, images/busybox/rootfs before it (--rev of an older commit).
    const layers = join(store, "images", "layers");
    const rootfs = [
      ...(existsSync(layers) ? readdirSync(layers).map((id) => join(layers, id, "root")) : []),
      join(store, "images", "busybox", "rootfs"),
    ].find((dir) => existsSync(join(dir, "bin", "true"))) ?? join(store, "images", "busybox", "rootfs");
    if (!existsSync(join(rootfs, "bin", "true"))) throw new Error(`${rootfs} has no /bin/true`);
    writeRuncBundle(bundle, rootfs);

    const diycCmd = [target.diyc, "--root", store, "run", "--rm", "bench", "busybox", "/bin/true"];
    // A command line diyc has not run before (a new name each time): no recipe, so the front
    // hands it to build/diyc, which runs it and records it (docs/start-path.md).
    let fresh = 0;
    const firstRunCmd = (): string[] => [target.diyc, "--root", store, "run", "--rm", `first-${fresh++}`, "busybox", "/bin/true"];
    let serial = 0;
    const runcCmd = (): string[] => ["runc", "run", "--bundle", bundle, `${RUNC_PREFIX}${serial++}`];
    const crunCmd = (): string[] => crunArgv(tmp, "run", "--bundle", bundle, `${RUNC_PREFIX}${serial++}`);
    // The wrapper crun needs here, alone: its median is subtracted from crun's.
    const wrapped = unifiedCgroupMounted();
    const wrapperCmd = withoutUnifiedCgroup(["true"]);
    let floorCmd: string[] | undefined;
    if (options.floor) {
      const driver = join(tmp, "c-floor");
      run(["cc", "-O2", "-pthread", "-o", driver, join(import.meta.dir, "c-floor.c")]);
      writeFileSync(join(tmp, "floor.script"), floorScript(target.diyc, store, tmp));
      floorCmd = [driver, target.helper, join(tmp, "floor.script")];
    }

    console.error(`warming up: ${options.warmup} runs each`);
    for (let i = 0; i < options.warmup; i++) {
      timedRun(diycCmd);
      timedRun(runcCmd());
      timedRun(crunCmd());
      if (wrapped) timedRun(wrapperCmd);
      if (floorCmd) timedRun(floorCmd);
    }
    console.error(`measuring: ${options.runs} runs each, interleaved`);
    const diyc: Timed[] = [];
    const runc: Timed[] = [];
    const crun: Timed[] = [];
    const wrapper: Timed[] = [];
    const floor: Timed[] = [];
    const firstRuns: Timed[] = [];
    for (let i = 0; i < options.runs; i++) {
      diyc.push(timedRun(diycCmd));
      firstRuns.push(timedRun(firstRunCmd()));
      runc.push(timedRun(runcCmd()));
      crun.push(timedRun(crunCmd()));
      if (wrapped) wrapper.push(timedRun(wrapperCmd));
      if (floorCmd) floor.push(timedRun(floorCmd));
    }

    let rssSource = "wait4 ru_maxrss (Bun resourceUsage), median over the timed runs";
    let diycRss = median(diyc.map((r) => r.maxRssKiB));
    let runcRss = median(runc.map((r) => r.maxRssKiB));
    let crunRss = median(crun.map((r) => r.maxRssKiB));
    if (time) {
      // A separate pass, so that time's own fork+exec is not in the timed runs.
      rssSource = "/usr/bin/time -f %M, median of 5 runs each";
      diycRss = rssWithTime(time, diycCmd, 5);
      runcRss = rssWithTime(time, runcCmd(), 5);
      crunRss = rssWithTime(time, crunCmd(), 5);
    }
    const d = summarize(diyc, diycRss);
    const first = summarize(firstRuns, time ? rssWithTime(time, firstRunCmd, 5) : NaN);
    const r = summarize(runc, runcRss);
    const c = summarize(crun, crunRss);
    const w = wrapped ? summarize(wrapper, 0) : { median: 0, p10: 0, p90: 0, rssKiB: 0 };
    const crunNet = c.median - w.median;
    // wait4 reports the largest of all the children Bun ever reaped (diyc among them): only time(1) measures the driver alone.
    const f = floorCmd ? summarize(floor, time ? rssWithTime(time, floorCmd, 5) : NaN) : undefined;
    const ratio = d.median / r.median;

    const hf = hyperfine ? hyperfineSummary(hyperfine, diycCmd, ["runc", "run", "--bundle", bundle, `${RUNC_PREFIX}hf`], tmp) : undefined;
    const prof = options.profile ? await profile(target, store, Math.min(options.runs, 20), tmp) : undefined;
    const tput = options.throughputRounds
      ? await throughput({
        diyc: (worker) => [target.diyc, "--root", store, "run", "--rm", `tp-${worker}`, "busybox", "/bin/true"],
        // runc run and crun run delete the container before they return: a worker reuses its id.
        runc: (worker) => ["runc", "run", "--bundle", bundle, `${RUNC_PREFIX}tp-${worker}`],
        crun: (worker) => ["crun", "--root", join(tmp, "crun-state"), "run", "--bundle", bundle, `${RUNC_PREFIX}tp-${worker}`],
      }, options.throughputRounds)
      : undefined;

    const row = (name: string, s: Summary) =>
      `| ${name} | ${s.median.toFixed(1)} | ${s.p10.toFixed(1)} | ${s.p90.toFixed(1)} | ${(s.rssKiB / 1024).toFixed(1)} |`;
    const kernel = kernelRelease();
    const cpus = cpuCount();
    report = [
      "# Start latency: diyc vs runc and crun",
      "",
      `Measured ${new Date().toISOString()} on Linux ${kernel}, ${cpus} CPUs;`,
      `diyc ${target.version}; ${firstLine(["runc", "--version"])}; ${firstLine(["crun", "--version"])}; Bun ${Bun.version}.`,
      `\`/bin/true\` from the same busybox rootfs, ${options.runs} runs each, interleaved, after ${options.warmup} warm-ups each.`,
      "",
      "| runtime | median (ms) | p10 (ms) | p90 (ms) | peak RSS (MiB) |",
      "|---|---:|---:|---:|---:|",
      row("`diyc run --rm` (replayed by the front: the command ran before)", d),
      row("`diyc run --rm`, a command line not run before (Bun, recorded)", first),
      row("`runc run`", r),
      row(wrapped ? "`crun run`, in the wrapper" : "`crun run`", c),
      ...(wrapped ? [
        `| the wrapper alone (\`${wrapperCmd.map((a) => (/[\s"$&]/.test(a) ? `'${a}'` : a)).join(" ")}\`) | ${w.median.toFixed(1)} | ${w.p10.toFixed(1)} | ${w.p90.toFixed(1)} | |`,
        `| \`crun run\` less the wrapper (difference of medians) | ${crunNet.toFixed(1)} | | | |`,
      ] : []),
      ...(f ? [row("the floor without Bun (`bench/c-floor.c`, --floor)", f)] : []),
      "",
      `**diyc / runc (ratio of medians): ${ratio.toFixed(2)}×** (design target: ≤ 0.5×). `
        + `**diyc / crun: ${(d.median / crunNet).toFixed(2)}×**${wrapped ? " (crun's median less the wrapper's)" : ""}; runc / crun: ${(r.median / crunNet).toFixed(2)}×. `
        + `A command line's first run: ${(first.median / r.median).toFixed(2)}× runc.`,
      ...(f ? ["", `The floor of a start path without Bun: ${(f.median / r.median).toFixed(2)}× runc, ${(f.median / crunNet).toFixed(2)}× crun. `
        + "bench/c-floor.c runs the plan diyc sends its helper (captured with strace) through the same helper and protocol, "
        + "with diyc's host steps for the same container (its files, the cgroup steps of a `-v` trace, the migration primed on a thread, the clean-up), from a script made in advance; "
        + "it leaves out Bun, diyc's code, the plan's compilation, the lock and the JSON bookkeeping."] : []),
      ...(wrapped ? ["", `crun refuses this hybrid cgroup host, so each \`crun run\` runs in a private mount namespace without ${"`/sys/fs/cgroup/unified`"} (bench/lib.ts withoutUnifiedCgroup); the wrapper was timed alone in the same rounds.`] : []),
      "",
      `Peak RSS: ${rssSource}; it is the largest of the process and the children it waited for.`,
      ...(hf ? ["", "## hyperfine (second opinion)", "", "```", hf.text, "```", "", hf.table] : []),
      ...(tput ? ["", "## Throughput (--throughput)", "", ...tput] : []),
      ...(prof ? ["", "## Where diyc's time goes (--profile)", "", ...prof] : []),
      "",
    ].join("\n");
  } finally {
    const problems = cleanup(tmp, diycForCleanup);
    for (const p of problems) console.error(`start-latency: cleanup: ${p}`);
    if (problems.length > 0) process.exitCode = 1;
  }
  console.log(report);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, report);
  console.error(`written to ${RESULTS}`);
}

await main();
