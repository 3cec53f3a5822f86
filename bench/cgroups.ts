// What cgroup set-up adds to `diyc run`'s start latency (cgroup v1 or hybrid).
//
//   node_modules/.bin/bun bench/cgroups.ts [--runs N] [--warmup N] [--verbose-runs N] [--probe-reps N] [--no-probe]
//
// Three parts, each written to bench/results/cgroups.md:
//   1. `diyc run --rm X busybox /bin/true` without limits against the same with
//      `-m 64 --cpus 1 --pids-limit 100`, interleaved, medians. Every container
//      gets a cgroup in every hierarchy, limits or not, so this difference is
//      only the limit writes.
//   2. The cgroup part itself, from `-v` runs: each trace line is stamped when
//      it reaches this process. Set-up is `HOST| init is pid` to `HOST| release
//      the init` (mkdirs, the limit writes, one cgroup.procs write per
//      hierarchy); tear-down is `HOST| the init exited` to the last
//      `HOST| cgroup rmdir`. The tracer prints each line *before* the step, so
//      the time of a step is from its line to the next one.
//   3. A probe of the kernel, outside diyc: the cost of one cgroup.procs write
//      as a function of the time since the previous migration (any process,
//      any hierarchy) and of the cgroup's age. See bench/README.md.
//
// Needs root, /bin/busybox, and a built diyc (npm run -s build).

import { spawnSync } from "bun";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cpuCount, f1, f2, kernelRelease, makeUsage, median, mountsUnder, parseFlags, percentile, REPO, type Stamped, stampedRun, timedRun } from "./lib";

const DIYC = join(REPO, "bin", "diyc");
const RESULTS = join(import.meta.dir, "results", "cgroups.md");
const CGROUP_ROOT = "/sys/fs/cgroup";
const LIMITS = ["-m", "64", "--cpus", "1", "--pids-limit", "100"];

interface Options {
  runs: number;
  warmup: number;
  verboseRuns: number;
  probeReps: number;
  probe: boolean;
}

const usage = makeUsage("cgroups bench", "usage: bun bench/cgroups.ts [--runs N] [--warmup N] [--verbose-runs N] [--probe-reps N] [--no-probe]");

function parseOptions(argv: string[]): Options {
  const options: Options = { runs: 60, warmup: 5, verboseRuns: 30, probeReps: 12, probe: true };
  parseFlags(argv, usage, {
    "--runs": (args) => { options.runs = args.count(); },
    "--warmup": (args) => { options.warmup = args.count(); },
    "--verbose-runs": (args) => { options.verboseRuns = args.count(); },
    "--probe-reps": (args) => { options.probeReps = args.count(); },
    "--no-probe": () => { options.probe = false; },
  });
  return options;
}

// ---------------------------------------------------------------------------
// 1. Whole runs, interleaved: timedRun (bench/lib.ts), wall time only

const wallTime = (argv: string[]): number => timedRun(argv).ms;

// ---------------------------------------------------------------------------
// 2. -v runs, each line stamped on arrival

/** The -v trace of one successful run, ending with an "(exited)" line stamped at the exit. */
async function verboseTrace(argv: string[]): Promise<Stamped[]> {
  const { lines, exitCode, exitMs } = await stampedRun(argv);
  if (exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${exitCode}): ${lines.map((l) => l.line).join("\n")}`);
  return [...lines, { ms: exitMs, line: "(exited)" }];
}

interface Phases {
  /** init is pid -> release the init */
  setup: number;
  /** init is pid -> the first cgroup.procs line: mkdirs and limit writes */
  mkdirsAndLimits: number;
  /** the first cgroup.procs line -> the next line: the first migration */
  firstProcs: number;
  /** the line after the first cgroup.procs line -> release the init: the other migrations */
  otherProcs: number;
  /** the init exited -> the last cgroup rmdir line */
  teardownToLastRmdir: number;
  /** the init exited -> the line after the last cgroup rmdir (the last rmdir included) */
  teardown: number;
  /** spawn -> exit */
  total: number;
}

function phasesOf(stamped: Stamped[]): Phases {
  const index = (test: (line: string) => boolean, from = 0) => {
    const i = stamped.findIndex((s, j) => j >= from && test(s.line));
    if (i < 0) throw new Error(`trace line missing:\n${stamped.map((s) => s.line).join("\n")}`);
    return i;
  };
  const lastIndex = (test: (line: string) => boolean) => stamped.length - 1 - [...stamped].reverse().findIndex((s) => test(s.line));
  const at = (i: number) => stamped[i]!.ms;
  const initPid = index((l) => l.startsWith("HOST| init is pid "));
  const release = index((l) => l.startsWith("HOST| release the init"), initPid);
  const firstProcs = index((l) => /^HOST\| cgroup write \S+\/cgroup\.procs /.test(l), initPid);
  const exited = index((l) => l.startsWith("HOST| the init exited"));
  const lastRmdir = lastIndex((l) => l.startsWith("HOST| cgroup rmdir "));
  if (lastRmdir < exited) throw new Error("no cgroup rmdir after the exit");
  return {
    setup: at(release) - at(initPid),
    mkdirsAndLimits: at(firstProcs) - at(initPid),
    firstProcs: at(firstProcs + 1) - at(firstProcs),
    otherProcs: at(release) - at(firstProcs + 1),
    teardownToLastRmdir: at(lastRmdir) - at(exited),
    teardown: at(lastRmdir + 1) - at(exited),
    total: at(stamped.length - 1),
  };
}

// ---------------------------------------------------------------------------
// 3. The kernel probe: one cgroup.procs write, timed around write(2) alone

function procsWrite(dir: string, pid: number): number {
  const fd = openSync(join(dir, "cgroup.procs"), "w");
  try {
    const start = performance.now();
    writeSync(fd, String(pid));
    return performance.now() - start;
  } finally {
    closeSync(fd);
  }
}

interface ProbeResult {
  delays: { delayMs: number; median: number; max: number }[];
  oldAfterQuiet: number[];
  freshAfterQuiet: number[];
  freshAfterMigration: number[];
  quietMs: number;
}

function probe(reps: number): ProbeResult {
  const quietMs = 200;
  const name = `diyc-bench-probe-${process.pid}`;
  const pids = join(CGROUP_ROOT, "pids", name);
  const memory = join(CGROUP_ROOT, "memory", name);
  const child = Bun.spawn(["/bin/busybox", "sleep", "1000"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const made: string[] = [];
  const mk = (dir: string) => {
    mkdirSync(dir);
    made.push(dir);
  };
  const home = () => {
    procsWrite(join(CGROUP_ROOT, "pids"), child.pid);
    procsWrite(join(CGROUP_ROOT, "memory"), child.pid);
  };
  try {
    mk(pids);
    mk(memory);
    Bun.sleepSync(500);
    const delays: ProbeResult["delays"] = [];
    // A migration in one hierarchy (pids), then D ms later one in another (memory), both into old cgroups.
    for (const delayMs of [0, 2, 4, 8, 16, 32, 64, 128]) {
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        Bun.sleepSync(quietMs);
        procsWrite(pids, child.pid);
        if (delayMs > 0) Bun.sleepSync(delayMs);
        times.push(procsWrite(memory, child.pid));
        home();
      }
      delays.push({ delayMs, median: median(times), max: Math.max(...times) });
    }
    const oldAfterQuiet: number[] = [];
    const freshAfterQuiet: number[] = [];
    const freshAfterMigration: number[] = [];
    for (let r = 0; r < reps; r++) {
      Bun.sleepSync(quietMs);
      oldAfterQuiet.push(procsWrite(memory, child.pid));
      home();

      Bun.sleepSync(quietMs);
      const fresh = join(memory, `fresh-${r}`);
      mkdirSync(fresh);
      freshAfterQuiet.push(procsWrite(fresh, child.pid));
      home();
      rmdirSync(fresh);

      Bun.sleepSync(quietMs);
      const fresh2 = join(memory, `fresh2-${r}`);
      procsWrite(pids, child.pid); // any migration, in another hierarchy
      mkdirSync(fresh2);
      freshAfterMigration.push(procsWrite(fresh2, child.pid));
      home();
      rmdirSync(fresh2);
    }
    return { delays, oldAfterQuiet, freshAfterQuiet, freshAfterMigration, quietMs };
  } finally {
    child.kill("SIGKILL");
    Bun.sleepSync(50);
    for (const dir of made.reverse()) {
      for (let i = 0; i < 50 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          Bun.sleepSync(20); // EBUSY until the killed child is reaped
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------

function kernelHz(): string {
  try {
    const out = spawnSync(["sh", "-c", "zcat /proc/config.gz 2>/dev/null | grep '^CONFIG_HZ='"]).stdout.toString().trim();
    return out.replace("CONFIG_HZ=", "") || "unknown";
  } catch {
    return "unknown";
  }
}

function version(): string {
  const run = (args: string[]) => spawnSync(["git", "--no-optional-locks", "-C", REPO, ...args]).stdout.toString().trim();
  const head = run(["rev-parse", "--short", "HEAD"]);
  const dirty = run(["status", "--porcelain", "--", "src", "native", "bin"]);
  return dirty ? `${head} with uncommitted changes in src/native/bin` : head;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage("needs root");
  if (!existsSync(join(CGROUP_ROOT, "memory", "cgroup.procs"))) usage("needs cgroup v1 (or hybrid): no /sys/fs/cgroup/memory");
  if (!existsSync("/bin/busybox")) usage("/bin/busybox not found: apt-get install -y busybox-static");

  const tmp = mkdtempSync(join(tmpdir(), "diyc-bench-cgroups-"));
  const store = join(tmp, "store");
  const plain = [DIYC, "--root", store, "run", "--rm", "bench", "busybox", "/bin/true"];
  const limited = [DIYC, "--root", store, "run", "--rm", ...LIMITS, "bench", "busybox", "/bin/true"];
  const verbose = (argv: string[]) => [...argv.slice(0, 4), "-v", ...argv.slice(4)];
  let report = "";
  try {
    wallTime(plain); // assembles the busybox image
    console.error(`warming up: ${options.warmup} runs each`);
    for (let i = 0; i < options.warmup; i++) {
      wallTime(plain);
      wallTime(limited);
    }
    console.error(`measuring: ${options.runs} runs each, interleaved`);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      a.push(wallTime(plain));
      b.push(wallTime(limited));
    }

    console.error(`-v runs: ${options.verboseRuns} each, interleaved`);
    const va: Phases[] = [];
    const vb: Phases[] = [];
    for (let i = 0; i < options.verboseRuns; i++) {
      va.push(phasesOf(await verboseTrace(verbose(plain))));
      vb.push(phasesOf(await verboseTrace(verbose(limited))));
    }
    const example = await verboseTrace(verbose(limited));

    let probed: ProbeResult | undefined;
    if (options.probe) {
      console.error(`kernel probe: ${options.probeReps} repetitions per case`);
      probed = probe(options.probeReps);
    }

    const paired = b.map((ms, i) => ms - a[i]!);
    const row = (label: string, v: number[]) => `| ${label} | ${f1(median(v))} | ${f1(percentile(v, 10))} | ${f1(percentile(v, 90))} |`;
    const phaseRow = (label: string, key: keyof Phases) =>
      `| ${label} | ${f2(median(va.map((p) => p[key])))} | ${f2(median(vb.map((p) => p[key])))} |`;
    const kernel = kernelRelease();
    const cpus = cpuCount();
    const lines = [
      "# cgroup set-up in `diyc run`'s start latency",
      "",
      `Measured ${new Date().toISOString()} on Linux ${kernel} (CONFIG_HZ=${kernelHz()}), ${cpus} CPUs, cgroup v1 (hybrid);`,
      `diyc ${version()}; Bun ${Bun.version}. Produced by \`node_modules/.bin/bun bench/cgroups.ts\`; see bench/README.md.`,
      "",
      `## Whole runs: ${options.runs} each, interleaved, after ${options.warmup} warm-ups each`,
      "",
      "| command | median (ms) | p10 (ms) | p90 (ms) |",
      "|---|---:|---:|---:|",
      row("`diyc run --rm bench busybox /bin/true`", a),
      row(`\`diyc run --rm ${LIMITS.join(" ")} bench busybox /bin/true\``, b),
      "",
      `Difference of medians: **${f1(median(b) - median(a))} ms**; median of the paired differences (each limited run minus the run just before it): **${f1(median(paired))} ms**. Both runs make a cgroup in every hierarchy and move the init into it; the limits add only their writes.`,
      "",
      `## The cgroup part, from \`-v\` trace stamps: ${options.verboseRuns} runs each, interleaved, medians`,
      "",
      "| phase (from line → to line) | no limits (ms) | with limits (ms) |",
      "|---|---:|---:|",
      phaseRow("**set-up**: `init is pid` → `release the init`", "setup"),
      phaseRow("· mkdirs, cpuset copies, limits, devices rules: `init is pid` → first `cgroup.procs` line", "mkdirsAndLimits"),
      phaseRow("· the first `cgroup.procs` write (its line → the next line)", "firstProcs"),
      phaseRow("· the other `cgroup.procs` writes → `release the init`", "otherProcs"),
      phaseRow("**tear-down**: `the init exited` → the last `cgroup rmdir` line", "teardownToLastRmdir"),
      phaseRow("· tear-down including the last rmdir (→ the line after it)", "teardown"),
      phaseRow("the whole `diyc run -v` (spawn → exit; -v costs a little)", "total"),
      "",
      "Stamps are taken when a chunk of stderr reaches the benchmark; lines that arrive in one chunk share a stamp, so a short phase can read 0.",
      "",
      "One `diyc run -v` with limits, the cgroup lines stamped (ms since spawn):",
      "",
      "```",
      ...example.filter((s) => s.line.startsWith("HOST|")).map((s) => `${f1(s.ms).padStart(7)}  ${s.line}`),
      "```",
    ];
    if (probed) {
      lines.push(
        "",
        `## The kernel probe: one \`cgroup.procs\` write (write(2) alone), outside diyc; ${options.probeReps} repetitions, medians`,
        "",
        `A child process is moved into a pids cgroup, then D ms later into a memory cgroup (both made long before); before each repetition, ${probed.quietMs} ms without migrations by this process.`,
        "",
        "| D: time since the previous migration (ms) | median (ms) | max (ms) |",
        "|---:|---:|---:|",
        ...probed.delays.map((d) => `| ${d.delayMs} | ${f2(d.median)} | ${f2(d.max)} |`),
        "",
        "| case | median (ms) | p10 (ms) | p90 (ms) |",
        "|---|---:|---:|---:|",
        `| old cgroup (made seconds before), after ${probed.quietMs} ms without migrations | ${f2(median(probed.oldAfterQuiet))} | ${f2(percentile(probed.oldAfterQuiet, 10))} | ${f2(percentile(probed.oldAfterQuiet, 90))} |`,
        `| fresh cgroup (mkdir just before), after ${probed.quietMs} ms without migrations | ${f2(median(probed.freshAfterQuiet))} | ${f2(percentile(probed.freshAfterQuiet, 10))} | ${f2(percentile(probed.freshAfterQuiet, 90))} |`,
        `| fresh cgroup (mkdir just before), right after a migration in another hierarchy | ${f2(median(probed.freshAfterMigration))} | ${f2(percentile(probed.freshAfterMigration, 10))} | ${f2(percentile(probed.freshAfterMigration, 90))} |`,
        "",
        "Other processes on the machine also migrate tasks (other containers, tests); a migration of theirs just before ours makes ours cheap, hence the spread.",
      );
    }
    const firstProcs = median([...va, ...vb].map((p) => p.firstProcs));
    const setup = median([...va, ...vb].map((p) => p.setup));
    const teardown = median([...va, ...vb].map((p) => p.teardown));
    const gp = probed ? median(probed.oldAfterQuiet) : undefined;
    const hz = Number(kernelHz());
    const ticks = gp !== undefined && hz > 0 ? `about ${(gp / (1000 / hz)).toFixed(1)} ticks at HZ=${hz}` : "one grace period";
    const cheapWithin = probed ? Math.max(-1, ...probed.delays.filter((d) => d.median < 1).map((d) => d.delayMs)) : -1;
    const cheap = probed ? median(probed.freshAfterMigration) : 0;
    lines.push(
      "",
      "## What it means",
      "",
      Math.abs(median(paired)) < 2
        ? `- **The limits themselves cost nothing measurable** (median paired difference ${f1(median(paired))} ms, within the noise of whole runs): five small writes. The -v stamps agree: the mkdirs-and-writes phase grows by ${f2(median(vb.map((p) => p.mkdirsAndLimits)) - median(va.map((p) => p.mkdirsAndLimits)))} ms with them.`
        : `- **The limits add ${f1(median(paired))} ms** (median paired difference of whole runs; p10 to p90 of one command spans ${f1(percentile(a, 90) - percentile(a, 10))} ms).`,
      `- **The cgroup set-up costs about ${f1(setup)} ms of every run, limits or not, and ${f1(firstProcs)} ms of it is the first \`cgroup.procs\` write.** The other five migrations, the twelve mkdirs and the limit and devices writes together take a few ms (-v's own stderr writes included). Tear-down (six rmdirs for the container, six for the store's parent once empty) takes about ${f1(teardown)} ms.`,
      `- **Why the first migration is slow: an RCU grace period.** Every write to \`cgroup.procs\` takes the kernel's global \`cgroup_threadgroup_rwsem\` for writing (\`cgroup_attach_lock\`). It is a per-CPU rw-semaphore: readers (fork, exit, exec) use a cheap per-CPU fast path, and a writer must first switch them to the slow path with \`rcu_sync_enter\`, which waits for an RCU grace period. After the writer leaves, the semaphore goes back to the fast path only a grace period or so later, so a migration soon after another one pays nothing.${gp === undefined ? "" : ` The probe shows exactly that: ${f2(gp)} ms (${ticks}) when nothing was migrated for a while, ${f2(cheap)} ms right after a previous migration${cheapWithin >= 0 ? ` (up to ${cheapWithin} ms after it)` : ""}, in another hierarchy even (pids, then memory), whether the cgroup was made a moment or seconds before.`}`,
      "  The age of the cgroup does not matter: a fresh cgroup right after another migration is cheap, an old one after a quiet spell pays the full grace period. (So creating the cgroup directories earlier, as start-latency's finding 3 suggested, would not save this time.)",
      "- **runc pays it too.** `strace -f -y -T -e trace=write runc run` (runc 1.1.5, the same rootfs, 300 ms apart) showed the first of its ten `cgroup.procs` writes (cpuset) taking 8.7–14.4 ms in six runs, and each of the other nine 16–44 µs.",
      "- **What would avoid it:** nothing diyc can do per container on v1; a migration right before (by anyone on the machine) hides it, which is why a busy host sees less of it. On cgroup v2, `clone3(CLONE_INTO_CGROUP)` starts the init in its cgroup with no migration at all, and the `favordynmods` mount option keeps the semaphore on the slow path permanently (cheap migrations, slightly dearer fork and exit).",
      "",
    );
    report = lines.join("\n");
  } finally {
    const mounts = mountsUnder(tmp);
    if (mounts.length > 0) {
      console.error(`cgroups bench: mounts left under ${tmp}: ${mounts.join(", ")}; not removing it`);
      process.exitCode = 1;
    } else {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  console.log(report);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, report);
  console.error(`written to ${RESULTS}`);
}

await main();
