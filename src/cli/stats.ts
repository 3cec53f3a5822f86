// `diyc stats [--no-stream] [--format json] [NAME...]`: memory against the
// limit, CPU % and pids of running containers, read from their cgroups.

import { DiycError, UsageError } from "../linux/errors";
import { statsView, type StatsView } from "../cgroups/stats";
import type { CgroupStats } from "../cgroups/index";
import { listContainerNames } from "../runtime/list";
import { containerStatus, requireContainer } from "../runtime/status";
import { validateName } from "../spec/names";
import { has, last, parseArgs } from "./args";
import type { Command } from "./context";
import { formatBytes, formatTable } from "./format";
import { runtimeContext } from "./runtime-context";

const HELP = `Usage: diyc stats [--no-stream] [--format table|json] [NAME...]

Shows each running container's CPU %, memory usage against its limit, and
number of processes, from its cgroup. Without NAME: every running container.
Streams every second until interrupted, unless --no-stream.`;

/** CPU % needs two samples: this is the gap for --no-stream. */
const SAMPLE_GAP_MS = 500;
const STREAM_INTERVAL_MS = 1000;

export const stats: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "no-stream" }, { long: "format", value: true }, { long: "help", short: "h" },
  ], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  const format = last(parsed, "format") ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`invalid --format ${JSON.stringify(format)}: use table or json`);
  const runtime = runtimeContext(ctx, false);
  const named = parsed.positionals.map((name) => validateName("container", name));
  for (const name of named) {
    requireContainer(ctx.store, name);
    if (containerStatus(ctx.store, name).status !== "running") throw new DiycError(`container ${name} is not running`);
  }
  const names = () => (named.length > 0 ? named : listContainerNames(ctx.store).filter((n) => containerStatus(ctx.store, n).status === "running"));
  const sample = (): Map<string, CgroupStats> => {
    const samples = new Map<string, CgroupStats>();
    for (const name of names()) {
      const cgroup = runtime.cgroups().open(name);
      if (cgroup) samples.set(name, cgroup.stats());
    }
    return samples;
  };
  const render = (rows: StatsView[]) => (format === "json" ? statsJson(rows) : formatStatsTable(rows));
  const views = (current: Map<string, CgroupStats>, previous: Map<string, CgroupStats>) =>
    [...current].map(([name, s]) => statsView(name, s, previous.get(name)));

  let previous = sample();
  if (has(parsed, "no-stream")) {
    await Bun.sleep(SAMPLE_GAP_MS);
    ctx.print(render(views(sample(), previous)));
    return 0;
  }
  for (;;) {
    await Bun.sleep(STREAM_INTERVAL_MS);
    const current = sample();
    // A table redraws in place (clear the screen, as docker stats does); JSON streams one array a line.
    ctx.print(format === "json" ? render(views(current, previous)) : `\x1b[2J\x1b[H${render(views(current, previous))}`);
    previous = current;
  }
};

const percent = (p: number | undefined) => (p === undefined ? "--" : `${p.toFixed(2)}%`);

/** The `diyc stats` table: a header line and one line per container, columns aligned. */
export function formatStatsTable(rows: readonly StatsView[]): string {
  return formatTable([
    ["NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"],
    ...rows.map((r) => [
      r.name,
      percent(r.cpuPercent),
      r.memoryUsageBytes === undefined
        ? "--"
        : `${formatBytes(r.memoryUsageBytes)} / ${r.memoryLimitBytes === undefined ? "unlimited" : formatBytes(r.memoryLimitBytes)}`,
      percent(r.memoryPercent),
      r.pids === undefined ? "--" : `${r.pids}${r.pidsLimit === undefined ? "" : ` / ${r.pidsLimit}`}`,
    ]),
  ]);
}

/** `diyc stats --format json`: one array, numbers unformatted, null where unknown or unlimited. */
export function statsJson(rows: readonly StatsView[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      name: r.name,
      cpu_percent: r.cpuPercent ?? null,
      memory_usage_bytes: r.memoryUsageBytes ?? null,
      memory_limit_bytes: r.memoryLimitBytes ?? null,
      memory_percent: r.memoryPercent ?? null,
      pids: r.pids ?? null,
      pids_limit: r.pidsLimit ?? null,
    })),
  );
}
