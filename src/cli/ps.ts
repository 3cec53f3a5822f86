// `diyc ps [-a] [--format json]`: containers and their status, worked out now.

import { UsageError } from "../linux/errors";
import { listContainers, type ContainerView } from "../runtime/inspect";
import { sweepStaleLocks } from "../runtime/remove";
import { has, last, parseArgs } from "./args";
import type { Command } from "./context";
import { formatTable } from "./format";

const HELP = `Usage: diyc ps [-a] [--format table|json]

Lists running containers; -a lists every container, stopped ones too.`;

function age(iso: string | null, now: number): string {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function statusText(c: ContainerView, now: number): string {
  if (c.status === "running") return `Up ${age(c.startedAt, now)}`;
  if (c.status === "created") return "Created";
  if (c.incomplete) return "Incomplete"; // a create that died half-way: rm -f removes it, run makes it again
  if (c.monitorLost) return "Exited (monitor lost)";
  const code = c.exitCode === null ? "" : ` (${c.exitCode}${c.oomKilled ? ", OOM" : ""})`;
  return `Exited${code}${c.finishedAt ? ` ${age(c.finishedAt, now)} ago` : ""}`;
}


export const ps: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "all", short: "a" }, { long: "format", value: true }, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`ps takes no arguments (got ${parsed.positionals[0]})`);
  const format = last(parsed, "format") ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`invalid --format ${JSON.stringify(format)}: use table or json`);
  // Lock files of runs killed before they claimed their name: garbage no container owns.
  sweepStaleLocks(ctx.store, ctx.syscalls);
  const containers = listContainers(ctx.store).filter((c) => has(parsed, "all") || c.status === "running");
  if (format === "json") {
    ctx.print(JSON.stringify(containers));
    return 0;
  }
  const now = Date.now();
  ctx.print(formatTable([
    ["NAME", "IMAGE", "COMMAND", "STATUS", "PID", "IP"],
    ...containers.map((c) => [c.name, c.image ?? "", JSON.stringify(c.command.length > 30 ? `${c.command.slice(0, 29)}…` : c.command), statusText(c, now), c.pid === null ? "" : String(c.pid), c.ip ?? ""]),
  ]));
  return 0;
};
