// `diyc exec [-i] [-e K=V] [-w DIR] [-u USER[:GROUP]] NAME CMD...`

import { findImage, imageLayout, layerRoots } from "../image/images";
import { layerFileReader, resolveUser } from "../image/run-config";
import { DiycError, UsageError } from "../linux/errors";
import { containerFiles, readConfig } from "../runtime/container";
import { requireContainer } from "../runtime/status";
import { execInContainer } from "../runtime/exec";
import { validateEnvEntry } from "../spec/container-spec";
import { all, has, last, parseArgs } from "./args";
import type { CliContext, Command } from "./context";
import { parseUser } from "./run";
import { runtimeContext } from "./runtime-context";

const HELP = `Usage: diyc exec [-d] [-i] [-t] [-v] [-e KEY=VALUE] [-w DIR] [-u USER[:GROUP]] NAME CMD [ARG...]

Runs CMD inside the running container NAME: its namespaces, its cgroup, the
same capabilities and no_new_privs. Exits with CMD's status.
  -i   keep stdin open (otherwise CMD reads /dev/null)
  -t   a terminal (pty) for CMD, relayed to yours in raw mode
  -d   return once CMD runs (its output goes nowhere); exit 0
  -u   names or ids; names from the container's /etc/passwd and /etc/group`;

/**
 * -u with names: looked up in the container's own /etc/passwd and /etc/group,
 * as it has them now (its writable layer over its image's layers), read from
 * the store, never through the running container's root.
 */
function execUser(ctx: CliContext, name: string, text: string): { uid: number; gid: number } {
  if (/^\d+(:\d+)?$/.test(text)) return parseUser(text);
  requireContainer(ctx.store, name);
  const config = readConfig(ctx.store, name);
  const layout = imageLayout(ctx.store);
  const image = config && findImage(layout, config.request.imageConfig?.id ?? config.image);
  if (!image) throw new DiycError(`container ${name}: its image is gone, so user ${JSON.stringify(text)} cannot be looked up; use a number`);
  const user = resolveUser(text, layerFileReader([containerFiles(ctx.store, name).upper, ...layerRoots(layout, image)]), "the container's");
  return { uid: user.uid, gid: user.gid };
}

export const exec: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "interactive", short: "i" }, { long: "tty", short: "t" }, { long: "detach", short: "d" }, { long: "verbose", short: "v" },
    { long: "env", short: "e", value: true },
    { long: "workdir", short: "w", value: true }, { long: "user", short: "u", value: true }, { long: "help", short: "h" },
  ], true);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  const [name, ...command] = parsed.positionals;
  if (!name || command.length === 0) throw new UsageError("exec needs NAME and a command; see diyc exec --help");
  const user = last(parsed, "user");
  return execInContainer(runtimeContext(ctx, ctx.verbose || has(parsed, "verbose")), name, {
    args: command,
    env: all(parsed, "env").map(validateEnvEntry),
    cwd: last(parsed, "workdir"),
    user: user === undefined ? undefined : execUser(ctx, name, user),
    interactive: has(parsed, "interactive"),
    terminal: has(parsed, "tty"),
    detach: has(parsed, "detach"),
  });
};
