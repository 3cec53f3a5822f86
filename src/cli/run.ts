// `diyc run [options] NAME IMAGE [CMD [ARG...]]`, and the seed's form
// `diyc [options] NAME IMAGE CMD...` which main.ts sends here too.

import { UsageError } from "../linux/errors";
import { runContainer } from "../runtime/run";
import type { ContainerOptions } from "../spec/container-spec";
import { all, has, last, parseArgs, type OptionSpec } from "./args";
import type { Command } from "./context";
import { runtimeContext } from "./runtime-context";

export const RUN_HELP = `Usage: diyc run [options] NAME IMAGE [CMD [ARG...]]
       diyc [options] NAME IMAGE CMD...        (the seed's form)

Runs CMD in a new container NAME made from IMAGE, waits for it, and exits
with its status. The container's files persist: running NAME again reuses
them; diyc rm NAME deletes them. Without CMD, runs /bin/sh.

Options:
  -v, --verbose          print every kernel step as it happens (HOST|, CONTAINER|)
      --rm               delete the container when it exits
  -e, --env KEY=VALUE    set an environment variable (repeatable)
  -w, --workdir DIR      working directory inside the container (created if missing)
      --hostname NAME    hostname (default: the container's name)
  -u, --user UID[:GID]   run as this user id (default 0)
      --read-only        mount the root filesystem read-only
  -h, --help             this help

Exit status: the command's own; 128+N if it was killed by signal N;
125 if diyc failed; 126 if the command cannot be executed; 127 if not found.`;

const OPTIONS: OptionSpec[] = [
  { long: "verbose", short: "v" },
  { long: "rm" },
  { long: "env", short: "e", value: true },
  { long: "workdir", short: "w", value: true },
  { long: "hostname", value: true },
  { long: "user", short: "u", value: true },
  { long: "read-only" },
  { long: "help", short: "h" },
];

/** "1000" or "1000:1000": numeric ids only, since images may have no /etc/passwd. */
export function parseUser(value: string): { uid: number; gid: number } {
  const match = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(value);
  const uid = Number(match?.[1]);
  const gid = Number(match?.[2] ?? match?.[1]);
  if (!match || uid > 0xfffffffe || gid > 0xfffffffe) throw new UsageError(`invalid user ${JSON.stringify(value)}: use UID or UID:GID (numbers)`);
  return { uid, gid };
}

export const run: Command = async (args, ctx) => {
  const parsed = parseArgs(args, OPTIONS, true);
  if (has(parsed, "help")) {
    ctx.print(RUN_HELP);
    return 0;
  }
  const [name, image, ...command] = parsed.positionals;
  if (!name || !image) throw new UsageError("run needs NAME and IMAGE; see diyc run --help");
  const verbose = ctx.verbose || has(parsed, "verbose");
  const userFlag = last(parsed, "user");
  const options: Omit<ContainerOptions, "etcFiles" | "name"> = {
    args: command.length > 0 ? command : ["/bin/sh"],
    env: all(parsed, "env"),
    cwd: last(parsed, "workdir"),
    hostname: last(parsed, "hostname"),
    user: userFlag === undefined ? undefined : parseUser(userFlag),
    readOnlyRoot: has(parsed, "read-only"),
    terminal: false,
    network: "host",
  };
  const runtime = runtimeContext(ctx, verbose);
  return runContainer(runtime, { name, image, autoRemove: has(parsed, "rm"), options }, ctx.syscalls.isatty(0));
};
