// `diyc port NAME [CTRPORT[/PROTO]]`: where a running container's ports are
// published on the host, as docker prints it ("80/tcp -> 0.0.0.0:32768").

import { DiycError, UsageError } from "../linux/errors";
import { parsePublish } from "../network/index";
import { describeContainer } from "../runtime/inspect";
import { requireContainer } from "../runtime/status";
import { has, parseArgs } from "./args";
import type { Command } from "./context";

const HELP = `Usage: diyc port NAME [CTRPORT[/tcp|/udp]]

The host ports a running container's ports are published on (-p).`;

export const port: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  const [name, only, ...extra] = parsed.positionals;
  if (!name || extra.length > 0) throw new UsageError("port needs a container name and at most one port");
  requireContainer(ctx.store, name);
  const view = describeContainer(ctx.store, name);
  // The recorded ports are formatPublish's text, read back by its own parser.
  const mappings = (view?.ports ?? []).map(parsePublish).map((m) => (
    { hostIp: m.hostIp ?? "0.0.0.0", hostPort: m.hostPort, container: `${m.containerPort}/${m.protocol}` }
  ));
  const wanted = only === undefined ? undefined : only.includes("/") ? only : `${only}/tcp`;
  const shown = mappings.filter((m) => wanted === undefined || m.container === wanted);
  if (wanted !== undefined && shown.length === 0) throw new DiycError(`no public port '${wanted}' published for ${name}`);
  for (const m of shown) ctx.print(wanted === undefined ? `${m.container} -> ${m.hostIp}:${m.hostPort}` : `${m.hostIp}:${m.hostPort}`);
  return 0;
};
