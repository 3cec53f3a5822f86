// `diyc exec [-i] [-e K=V] [-w DIR] [-u UID[:GID]] NAME CMD...`

import { UsageError } from "../linux/errors";
import { execInContainer } from "../runtime/exec";
import { validateEnvEntry } from "../spec/container-spec";
import { all, has, last, parseArgs } from "./args";
import type { Command } from "./context";
import { parseUser } from "./run";
import { runtimeContext } from "./runtime-context";

const HELP = `Usage: diyc exec [-i] [-t] [-v] [-e KEY=VALUE] [-w DIR] [-u UID[:GID]] NAME CMD [ARG...]

Runs CMD inside the running container NAME: its namespaces, its cgroup, the
same capabilities and no_new_privs. Exits with CMD's status.
  -i   keep stdin open (otherwise CMD reads /dev/null)
  -t   a terminal (pty) for CMD, relayed to yours in raw mode`;

export const exec: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "interactive", short: "i" }, { long: "tty", short: "t" }, { long: "verbose", short: "v" }, { long: "env", short: "e", value: true },
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
    user: user === undefined ? undefined : parseUser(user),
    interactive: has(parsed, "interactive"),
    terminal: has(parsed, "tty"),
  });
};
