// What a waiting foreground `diyc run` costs in memory, and what handing its
// wait to diyc-wait costs in time.
//
//   node_modules/.bin/bun bench/wait-memory.ts [--runs N] [--diyc PATH]...
//
// For each diyc binary (default build/diyc; a second --diyc, such as a build
// of an older commit, is measured side by side, interleaved):
//   1. VmRSS of the process the user started, `diyc run --rm X busybox sleep 1`,
//      read from /proc/PID/status 0.5 s in, while it waits; what program it
//      is then (Bun, or diyc-wait after the hand-off), and the monitor's VmRSS.
//   2. The wall time of `run --rm X busybox /bin/true` (it exits within the
//      grace: no hand-off) and of `run --rm X busybox sleep 0.2` (handed off:
//      one more start of diyc at its end). Medians.
// Written to bench/results/wait-memory.md. Needs root and a built diyc.

import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { f1, kernelRelease, makeUsage, median, mountsUnder, parseFlags, REPO, timedRun } from "./lib";

const RESULTS = join(import.meta.dir, "results", "wait-memory.md");
const usage = makeUsage("wait-memory", "usage: bun bench/wait-memory.ts [--runs N] [--diyc PATH]...");

let runs = 10;
const binaries: string[] = [];
parseFlags(process.argv.slice(2), usage, {
  "--runs": (a) => (runs = a.count()),
  "--diyc": (a) => binaries.push(a.value("a diyc binary")),
});
if (binaries.length === 0) binaries.push(join(REPO, "build", "diyc"));
if (process.geteuid?.() !== 0) usage("needs root");
for (const binary of binaries) if (!existsSync(binary)) usage(`no ${binary} (npm run -s build)`);

const status = (pid: number, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

interface Sample {
  rssKiB: number;
  program: string;
  monitorRssKiB: number;
}

/** One foreground run that sleeps 1 s; its RSS and program 0.5 s in. */
async function waitingSample(binary: string, root: string, name: string): Promise<Sample> {
  const run = Bun.spawn([binary, "--root", root, "run", "--rm", name, "busybox", "sleep", "1"], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await Bun.sleep(500);
  const state = JSON.parse(readFileSync(join(root, "containers", name, "state.json"), "utf8"));
  const sample = {
    rssKiB: status(run.pid, "VmRSS"),
    program: readlinkSync(`/proc/${run.pid}/exe`).replace(/ \(deleted\)$/, ""),
    monitorRssKiB: status(state.monitor.pid, "VmRSS"),
  };
  if ((await run.exited) !== 0) throw new Error(`${binary} run failed: ${await new Response(run.stderr).text()}`);
  return sample;
}

const root = mkdtempSync("/tmp/diyc-bench-wait-");
const results = binaries.map((binary) => ({ binary, samples: [] as Sample[], trueMs: [] as number[], sleepMs: [] as number[] }));
try {
  // Warm-up: the built-in image, page cache.
  for (const { binary } of results) timedRun([binary, "--root", root, "run", "--rm", "warm", "busybox", "/bin/true"]);
  for (let i = 0; i < runs; i++) {
    for (const [k, result] of results.entries()) {
      result.samples.push(await waitingSample(result.binary, root, `wait${k}`));
      result.trueMs.push(timedRun([result.binary, "--root", root, "run", "--rm", `true${k}`, "busybox", "/bin/true"]).ms);
      result.sleepMs.push(timedRun([result.binary, "--root", root, "run", "--rm", `sleep${k}`, "busybox", "sleep", "0.2"]).ms);
    }
  }
} finally {
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  else console.error(`left ${root}: mounts remain under it`);
}

const lines = [
  "# A waiting foreground `diyc run`: memory, and the cost of the hand-off",
  "",
  `${new Date().toISOString()}, kernel ${kernelRelease()}, ${runs} runs each (bench/wait-memory.ts).`,
  "",
  "| diyc | waiting process | its VmRSS (median) | monitor VmRSS | `run --rm /bin/true` (median) | `run --rm sleep 0.2` (median) |",
  "|---|---|---|---|---|---|",
  ...results.map(({ binary, samples, trueMs, sleepMs }) => {
    const programs = [...new Set(samples.map((s) => s.program.startsWith("/memfd:") ? s.program : "Bun (diyc)"))].join(", ");
    return `| ${binary} | ${programs} | ${median(samples.map((s) => s.rssKiB))} kB | ${median(samples.map((s) => s.monitorRssKiB))} kB | ${f1(median(trueMs))} ms | ${f1(median(sleepMs))} ms |`;
  }),
  "",
];
console.log(lines.join("\n"));
writeFileSync(RESULTS, lines.join("\n"));
