// `diyc ps [-a] [--format json]`: containers and their status, worked out now.

import { UsageError } from "../linux/errors";
import { parsePublish } from "../network/index";
import { listContainers, type ContainerView } from "../runtime/inspect";
import { sweepStaleLocks } from "../runtime/remove";
import { all, has, last, parseArgs } from "./args";
import type { Command } from "./context";
import { formatTable } from "./format";
import { renderTemplate } from "./template";

const HELP = `Usage: diyc ps [-a] [-q] [--filter KEY=VALUE]... [--format table|json|TEMPLATE]

Lists running containers; -a lists every container, stopped ones too.
  -q, --quiet          names only
  -f, --filter         name=SUBSTRING, id=NAME, status=created|restarting|running|exited
                       (docker's removing, paused and dead are accepted; diyc has none)
      --format         table (default), json, or a Go template as docker takes it:
                       '{{.Names}}\\t{{.Status}}', 'table {{.Names}}\\t{{.Ports}}', '{{json .}}'
                       fields: ID Names Image Command Status State RunningFor CreatedAt
                       Ports Networks IP Pid`;

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
  if (c.restarting) return `Restarting (${c.exitCode ?? "?"}) ${age(c.finishedAt, now)} ago`;
  const code = c.exitCode === null ? "" : ` (${c.exitCode}${c.oomKilled ? ", OOM" : ""})`;
  return `Exited${code}${c.finishedAt ? ` ${age(c.finishedAt, now)} ago` : ""}`;
}


/** A command as a shell would show it: words with spaces or quotes in single quotes. */
function commandAsTyped(args: readonly string[]): string {
  return args.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(" ");
}

/** docker's ps --format fields, for one container. */
function templateRow(c: ContainerView, now: number): Record<string, unknown> {
  return {
    ID: c.name, Names: c.name, Image: c.image ?? "", Command: commandAsTyped(c.args), Status: statusText(c, now),
    State: stateOf(c), RunningFor: c.createdAt ? `${age(c.createdAt, now)} ago` : "",
    CreatedAt: c.createdAt ?? "", Ports: portsText(c), Networks: c.network ?? "", IP: c.ip ?? "", Pid: c.pid ?? "",
  };
}
const TEMPLATE_FIELDS = ["ID", "Names", "Image", "Command", "Status", "State", "RunningFor", "CreatedAt", "Ports", "Networks", "IP", "Pid"];

/** "127.0.0.1:8080->80/tcp, 9090->90/udp", as docker shows published ports. */
function portsText(c: ContainerView): string {
  return c.ports.map(parsePublish).map((m) => `${m.hostIp ? `${m.hostIp}:` : ""}${m.hostPort}->${m.containerPort}/${m.protocol}`).join(", ");
}

/** Docker's container states, all accepted by --filter status=; diyc never has removing, paused or dead. */
const DOCKER_STATES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** What --filter status= and {{.State}} compare: docker's state, where a restarting container is neither running nor exited. */
function stateOf(c: ContainerView): string {
  return c.incomplete ? "incomplete" : c.restarting ? "restarting" : c.status;
}

/** --filter name=NAME (a substring, as docker), status=STATE, id=NAME. */
function filterOf(filters: string[]): (c: ContainerView) => boolean {
  const checks = filters.map((filter) => {
    const eq = filter.indexOf("=");
    const key = filter.slice(0, eq), value = filter.slice(eq + 1);
    if (eq <= 0) throw new UsageError(`invalid --filter ${JSON.stringify(filter)}: use KEY=VALUE`);
    switch (key) {
      case "name": return (c: ContainerView) => c.name.includes(value);
      case "id": return (c: ContainerView) => c.name === value;
      case "status":
        if (!DOCKER_STATES.includes(value)) throw new UsageError(`invalid --filter status=${value}: use one of ${DOCKER_STATES.join(", ")}`);
        return (c: ContainerView) => stateOf(c) === value;
      default: throw new UsageError(`unknown --filter ${JSON.stringify(key)}: use name, id or status`);
    }
  });
  // docker: the same key given twice matches either value; different keys must all match.
  const byKey = new Map<string, ((c: ContainerView) => boolean)[]>();
  filters.forEach((f, i) => byKey.set(f.slice(0, f.indexOf("=")), [...(byKey.get(f.slice(0, f.indexOf("="))) ?? []), checks[i]!]));
  return (c) => [...byKey.values()].every((alternatives) => alternatives.some((check) => check(c)));
}

export const ps: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "all", short: "a" }, { long: "quiet", short: "q" }, { long: "format", value: true },
    { long: "filter", short: "f", value: true }, { long: "help", short: "h" },
  ], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`ps takes no arguments (got ${parsed.positionals[0]})`);
  const format = last(parsed, "format") ?? "table";
  const matches = filterOf(all(parsed, "filter"));
  // Lock files of runs killed before they claimed their name: garbage no container owns.
  sweepStaleLocks(ctx.store, ctx.syscalls);
  // docker: a status filter looks at every container, as -a does.
  const everything = has(parsed, "all") || all(parsed, "filter").some((f) => f.startsWith("status="));
  const containers = listContainers(ctx.store).filter((c) => (everything || c.status === "running") && matches(c));
  const now = Date.now();
  if (has(parsed, "quiet")) {
    for (const c of containers) ctx.print(c.name);
    return 0;
  }
  if (format === "json") {
    ctx.print(JSON.stringify(containers));
    return 0;
  }
  if (format !== "table") {
    const lines = renderTemplate(format, containers.map((c) => templateRow(c, now)), TEMPLATE_FIELDS);
    if (lines.length > 0) ctx.print(lines.join("\n"));
    return 0;
  }
  const shortened = (text: string) => (text.length > 30 ? `${text.slice(0, 29)}…` : text);
  ctx.print(formatTable([
    ["NAME", "IMAGE", "COMMAND", "STATUS", "PORTS", "PID", "IP"],
    ...containers.map((c) => [c.name, c.image ?? "", `"${shortened(commandAsTyped(c.args))}"`, statusText(c, now), portsText(c), c.pid === null ? "" : String(c.pid), c.ip ?? ""]),
  ]));
  return 0;
};
