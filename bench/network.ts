// What a network costs at start: `diyc run --rm X busybox /bin/true` with
// `--net <network>` against the same run on the host's network (no network
// option) and with `--net none`, interleaved, in one store of the bench's own;
// then where the time goes, from `-v` trace lines stamped as they arrive.
//
//   node_modules/.bin/bun bench/network.ts [--runs N] [--warmup N] [--traces N] [--out FILE]
//
// Needs root, nft and /bin/busybox. The bench creates its own network (bridge
// dnt????, a free 10.213.X.0/24) in its own store under /tmp, and cleans it:
// at the end no link, nft table, lease or mount of it is left, or it exits 1.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostVethName } from "../src/network/veth";
import { f1, makeUsage, median, parseFlags, percentile, REPO, type Stamped, stampedRun, timedRun } from "./lib";

const DIYC = join(REPO, "bin/diyc");
const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

const usage = makeUsage("network bench", "usage: bun bench/network.ts [--runs N] [--warmup N] [--traces N] [--out FILE]");
let RUNS = 40;
let WARMUP = 5;
let TRACES = 25;
let OUT = join(REPO, "bench/results/network.md");
parseFlags(process.argv.slice(2), usage, {
  "--runs": (args) => { RUNS = args.count(); },
  "--warmup": (args) => { WARMUP = args.count(); },
  "--traces": (args) => { TRACES = args.count(); },
  "--out": (args) => { OUT = resolve(args.value("a file")); },
});

if (process.getuid?.() !== 0) {
  console.error("bench/network.ts needs root");
  process.exit(1);
}

function sh(argv: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

function freeOctet(): number {
  const used = sh(["ip", "-o", "addr"]).out + sh(["ip", "route"]).out;
  for (;;) {
    const x = 1 + Math.floor(Math.random() * 254);
    if (!used.includes(`10.213.${x}.`)) return x;
  }
}

const root = mkdtempSync("/tmp/diyc-netbench-");
// The bench's networks stay in its store, not in the host's network registry.
const DIYC_ENV = { ...ENV, DIYC_NETWORKS: join(root, "network") };
const bridge = `dnt${Math.random().toString(36).slice(2, 6).padEnd(4, "0")}`;
const subnet = `10.213.${freeOctet()}.0/24`;
const table = `diyc_${bridge}`;

function diyc(args: string[]): { code: number; stderr: string } {
  const p = Bun.spawnSync([DIYC, "--root", root, ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: DIYC_ENV });
  return { code: p.exitCode ?? -1, stderr: p.stderr.toString() };
}

type Variant = "host" | "net" | "none";
const OPTIONS: Record<Variant, string[]> = { host: [], net: ["--net", bridge], none: ["--net", "none"] };

let counter = 0;
const names: string[] = [];
/** One `diyc run --rm` of the variant, timed (wall time, ms). */
function timedVariant(variant: Variant): number {
  const name = `b${counter++}`;
  names.push(name);
  return timedRun([DIYC, "--root", root, "run", "--rm", ...OPTIONS[variant], name, "busybox", "/bin/true"], { env: DIYC_ENV, stdout: "ignore" }).ms;
}

/** One `diyc run -v` of the variant, each stderr line stamped when it reached us (ms since spawn). */
async function tracedRun(variant: Variant = "net"): Promise<Stamped[]> {
  const name = `t${counter++}`;
  names.push(name);
  const { lines, exitCode, exitMs } = await stampedRun([DIYC, "--root", root, "run", "-v", "--rm", ...OPTIONS[variant], name, "busybox", "/bin/true"], { env: DIYC_ENV });
  lines.push({ ms: exitMs, line: `(diyc exited, status ${exitCode})` });
  if (exitCode !== 0) throw new Error(`traced run: exit ${exitCode}\n${lines.map((l) => l.line).join("\n")}`);
  return lines;
}

/** The network steps of the trace, each with the time since the line before it. */
const ATTACH_STEPS: [string, RegExp][] = [
  ["lease (open netlink, find bridge, detach leftovers, claim address)", /^HOST\| lease /],
  ["create veth pair, peer in the container's netns", /^HOST\| create veth /],
  ["set master (bridge port)", /^HOST\| set master /],
  ["set host end up", /^HOST\| set veth\S* up/],
  ["open netlink socket in the netns (setns there and back)", /^HOST\| open netlink socket in netns/],
  ["netns: lo up", /^HOST\| netns \d+: set lo up/],
  ["netns: add address to eth0", /^HOST\| netns \d+: add address/],
  ["netns: eth0 up", /^HOST\| netns \d+: set eth0 up/],
  ["netns: default route", /^HOST\| netns \d+: add default route/],
  ["write hosts files", /^HOST\| write hosts files/],
];
const DETACH_STEPS: [string, RegExp][] = [
  ["delete veth (when the kernel has not already)", /^HOST\| delete veth /],
  ["release lease (after the netlink lookup of the veth and the port-claims scan)", /^HOST\| release lease /],
  ["write hosts files of the others", /^HOST\| write hosts files/],
];

function stepTimes(lines: Stamped[]) {
  const attach: Record<string, number> = {};
  const detach: Record<string, number> = {};
  const exited = lines.findIndex((l) => l.line.startsWith("HOST| the init exited"));
  const find = (re: RegExp, from: number, to: number) => {
    for (let i = from; i < to; i++) if (re.test(lines[i]!.line)) return i;
    return -1;
  };
  let first = -1;
  let last = -1;
  for (const [label, re] of ATTACH_STEPS) {
    const i = find(re, 0, exited);
    if (i <= 0) continue;
    attach[label] = lines[i]!.ms - lines[i - 1]!.ms;
    if (first === -1) first = i - 1;
    last = i;
  }
  const attachTotal = first >= 0 ? lines[last]!.ms - lines[first]!.ms : NaN;
  let dFirst = -1;
  let dLast = -1;
  for (const [label, re] of DETACH_STEPS) {
    const i = find(re, exited, lines.length);
    if (i <= 0) continue;
    detach[label] = lines[i]!.ms - lines[i - 1]!.ms;
    if (dFirst === -1) dFirst = i - 1;
    dLast = i;
  }
  const detachTotal = dFirst >= 0 ? lines[dLast]!.ms - lines[dFirst]!.ms : NaN;
  return { attach, detach, attachTotal, detachTotal, vethDeleted: lines.some((l) => /^HOST\| delete veth /.test(l.line)) };
}

function leftovers(): string[] {
  const problems: string[] = [];
  if (sh(["ip", "-o", "link"]).out.includes(bridge)) problems.push(`link ${bridge} is still there`);
  const links = sh(["ip", "-o", "link"]).out;
  for (const name of names) if (links.includes(hostVethName(name))) problems.push(`veth ${hostVethName(name)} is still there`);
  if (sh(["nft", "list", "tables"]).out.includes(table)) problems.push(`nft table ${table} is still there`);
  if (existsSync(join(root, "network", bridge))) problems.push(`${root}/network/${bridge} is still there`);
  if (existsSync(join(root, "containers")) && readdirSync(join(root, "containers")).length > 0) problems.push("containers are left");
  if (readFileSync("/proc/self/mountinfo", "utf8").includes(root)) problems.push(`mounts under ${root}`);
  return problems;
}

/** Milestones of every run, for the phase table: the stamp of the first line matching each. */
const MILESTONES: [string, RegExp][] = [
  ["first trace line (argv, store, network prepared, plan compiled)", /^HOST\| spawn /],
  ["init cloned", /^HOST\| init is pid /],
  ["init released (cgroups joined, network attached)", /^HOST\| release the init/],
  ["command exec'd", /^HOST\| start: exec the command/],
  ["init exited", /^HOST\| the init exited/],
  ["diyc exited (cgroups, network, container dir removed)", /^\(diyc exited/],
];
function milestones(lines: Stamped[]): number[] {
  return MILESTONES.map(([, re]) => lines.find((l) => re.test(l.line))?.ms ?? NaN);
}
const phases: Record<Variant, number[][]> = { host: [], net: [], none: [] };

const times: Record<Variant, number[]> = { host: [], net: [], none: [] };
const traces: ReturnType<typeof stepTimes>[] = [];
let failure: unknown;
try {
  const setup = diyc(["network", "setup", "--bridge", bridge, "--subnet", subnet]);
  if (setup.code !== 0) throw new Error(`network setup: ${setup.stderr}`);
  const order: Variant[] = ["host", "net", "none"];
  for (let i = 0; i < WARMUP; i++) for (const v of order) timedVariant(v);
  for (let i = 0; i < RUNS; i++) {
    // Rotate which variant goes first, so none always follows the same one.
    for (let j = 0; j < order.length; j++) {
      const v = order[(i + j) % order.length]!;
      times[v].push(timedVariant(v));
    }
  }
  for (let i = 0; i < TRACES; i++) {
    for (const v of order) {
      const lines = await tracedRun(v);
      phases[v].push(milestones(lines));
      if (v === "net") traces.push(stepTimes(lines));
    }
  }
} catch (error) {
  failure = error;
} finally {
  const clean = diyc(["network", "clean", "--bridge", bridge]);
  if (clean.code !== 0) console.error(`network clean: ${clean.stderr}`);
}
const problems = leftovers();
if (problems.length === 0) rmSync(root, { recursive: true, force: true });
if (failure) {
  console.error(failure);
  process.exit(1);
}

// --- report ---

const commit = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).out.trim();
const dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "src", "native"]).out.trim() !== "";
const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
const row = (label: string, v: number[]) => `| ${label} | ${f1(median(v))} | ${f1(percentile(v, 10))} | ${f1(percentile(v, 90))} |`;
const diffs = times.net.map((t, i) => t - times.host[i]!);
const noneDiffs = times.none.map((t, i) => t - times.host[i]!);
const extra = median(times.net) - median(times.host);

const out: string[] = [
  "# Network start cost: `diyc run --net NETWORK` against the host's network",
  "",
  `Measured ${new Date().toISOString()} on Linux ${kernel}, ${navigator.hardwareConcurrency} CPUs; diyc ${commit}${dirty ? " (src/ or native/ had uncommitted changes)" : ""}; Bun ${Bun.version}.`,
  `\`bin/diyc run --rm X busybox /bin/true\`, ${RUNS} runs of each variant, interleaved (order rotated each round), after ${WARMUP} warm-ups each;`,
  "one store and one network (a bridge of the bench's own on a free 10.213.X.0/24) for the whole bench. Wall time of the whole command.",
  "",
  "| variant | median (ms) | p10 (ms) | p90 (ms) |",
  "|---|---:|---:|---:|",
  row("host network (no option)", times.host),
  row("`--net none` (own netns, lo up)", times.none),
  row(`\`--net ${bridge}\` (veth, address, route, hosts files)`, times.net),
  "",
  `**Extra for a network: ${f1(extra)} ms** (difference of medians; the median of the per-round differences is ${f1(median(diffs))} ms). Target in the issue: ≤ 5 ms.`,
  `\`--net none\` costs ${f1(median(times.none) - median(times.host))} ms over the host network (median of per-round differences ${f1(median(noneDiffs))} ms): a new network namespace and lo up.`,
  "",
  `## Where the time goes (${TRACES} runs of \`diyc run -v --net ${bridge}\`)`,
  "",
  "Each stderr line stamped when it reached the bench; a step's time is the gap between its trace line and the line before it",
  "(every line is printed after its step is done). Lines that arrive in one read get the same stamp, so single steps can show 0;",
  "the totals are sturdier than the single steps.",
  "",
  "| attach step (before the init is released) | median (ms) | p90 (ms) |",
  "|---|---:|---:|",
  ...ATTACH_STEPS.map(([label]) => {
    const v = traces.map((t) => t.attach[label]).filter((x): x is number => x !== undefined);
    return v.length ? `| ${label} | ${f1(median(v))} | ${f1(percentile(v, 90))} |` : `| ${label} | — | — |`;
  }),
  `| **attach total** (last cgroup line → \`write hosts files\`) | **${f1(median(traces.map((t) => t.attachTotal)))}** | ${f1(percentile(traces.map((t) => t.attachTotal), 90))} |`,
  "",
  "| detach step (after the init exited) | median (ms) | p90 (ms) | seen in |",
  "|---|---:|---:|---:|",
  ...DETACH_STEPS.map(([label]) => {
    const v = traces.map((t) => t.detach[label]).filter((x): x is number => x !== undefined);
    return v.length ? `| ${label} | ${f1(median(v))} | ${f1(percentile(v, 90))} | ${v.length}/${TRACES} |` : `| ${label} | — | — | 0/${TRACES} |`;
  }),
  `| **detach total** (last cgroup rmdir → last network line) | **${f1(median(traces.map((t) => t.detachTotal)))}** | ${f1(percentile(traces.map((t) => t.detachTotal), 90))} | |`,
  "",
  `Phases of the same traced runs (interleaved host / net / none, ${TRACES} each): the median time of each phase, from the milestone`,
  "before it to this one (-v adds its own cost to every variant alike).",
  "",
  "| phase ending at | host (ms) | none (ms) | net (ms) | net − host (ms) |",
  "|---|---:|---:|---:|---:|",
  ...MILESTONES.map(([label], k) => {
    const phase = (v: Variant) => median(phases[v].map((m) => (k === 0 ? m[0]! : m[k]! - m[k - 1]!)));
    return `| ${label} | ${f1(phase("host"))} | ${f1(phase("none"))} | ${f1(phase("net"))} | ${f1(phase("net") - phase("host"))} |`;
  }),
  `| **whole traced run** | ${f1(median(phases.host.map((m) => m.at(-1)!)))} | ${f1(median(phases.none.map((m) => m.at(-1)!)))} | ${f1(median(phases.net.map((m) => m.at(-1)!)))} | ${f1(median(phases.net.map((m) => m.at(-1)!)) - median(phases.host.map((m) => m.at(-1)!)))} |`,
  "",
];
// Hand-written findings below the numbers survive a re-run.
const previous = existsSync(OUT) ? readFileSync(OUT, "utf8") : "";
const findings = previous.indexOf("\n## Findings");
writeFileSync(OUT, `${out.join("\n")}\n${findings === -1 ? "" : previous.slice(findings + 1)}`);
console.log(out.join("\n"));
if (problems.length > 0) {
  console.error(`left behind: ${problems.join("; ")} (store ${root} kept)`);
  process.exit(1);
}
