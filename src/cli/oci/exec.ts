// diyc-oci exec [--process FILE | ARGS...] [--detach] [--pid-file F] [-t|--tty] [--console-socket S]
//               [--cwd D] [--env K=V] [--user U[:G]] [--additional-gids G] [--cap C] [--no-new-privs] ID [ARGS...]

import { readFileSync } from "node:fs";
import { UsageError } from "../../linux/errors";
import { all, has, last, parseArgs } from "../args";
import { execInOciContainer } from "../../runtime/oci/exec";
import { readContainer } from "../../runtime/oci/state";
import { hostSecurity, parseProcess } from "../../spec/bundle";
import type { Process } from "../../spec/oci";
import { capabilityNumber } from "../../linux/capabilities";
import type { OciCommand } from "./context";

const OPTIONS = [
  { long: "process", short: "p", value: true },
  { long: "detach", short: "d" },
  { long: "pid-file", value: true },
  { long: "tty", short: "t" },
  { long: "console-socket", value: true },
  { long: "cwd", value: true },
  { long: "env", short: "e", value: true },
  { long: "user", short: "u", value: true },
  { long: "additional-gids", short: "g", value: true },
  { long: "cap", short: "c", value: true },
  { long: "no-new-privs" },
  { long: "preserve-fds", value: true },
  { long: "apparmor", value: true },
  { long: "process-label", value: true },
  { long: "ignore-paused" },
];

function number(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: use a number`);
  return Number(text);
}

/** The process from flags: the container's own, changed where asked. */
function processFromFlags(base: Process, parsed: ReturnType<typeof parseArgs>, args: string[]): Process {
  if (args.length === 0) throw new UsageError("exec needs a command (or --process FILE)");
  let user = base.user;
  const userFlag = last(parsed, "user");
  if (userFlag !== undefined) {
    const [uid, gid] = userFlag.split(":");
    user = { uid: number(uid!, "--user"), gid: gid === undefined ? 0 : number(gid, "--user group") };
  }
  const gids = all(parsed, "additional-gids").map((g) => number(g, "--additional-gids"));
  const caps = all(parsed, "cap").map((c) => {
    const name = c.toUpperCase().startsWith("CAP_") ? c.toUpperCase() : `CAP_${c.toUpperCase()}`;
    if (capabilityNumber(name) === undefined) throw new UsageError(`unknown capability ${JSON.stringify(c)}`);
    return name;
  });
  const add = (set: string[] | undefined) => [...new Set([...(set ?? []), ...caps])];
  const env = new Map(base.env.map((e) => [e.slice(0, e.indexOf("=")), e] as const));
  for (const entry of all(parsed, "env")) {
    if (entry.indexOf("=") <= 0) throw new UsageError(`invalid --env ${JSON.stringify(entry)}: use KEY=VALUE`);
    env.set(entry.slice(0, entry.indexOf("=")), entry);
  }
  const cwd = last(parsed, "cwd") ?? base.cwd;
  if (!cwd.startsWith("/")) throw new UsageError(`invalid --cwd ${JSON.stringify(cwd)}: it must be an absolute path`);
  return {
    ...base,
    args,
    env: [...env.values()],
    cwd,
    terminal: has(parsed, "tty"),
    user: { ...user, additionalGids: gids.length > 0 ? gids : user.additionalGids },
    capabilities: {
      bounding: add(base.capabilities.bounding), effective: add(base.capabilities.effective),
      permitted: add(base.capabilities.permitted), inheritable: add(base.capabilities.inheritable), ambient: add(base.capabilities.ambient),
    },
    noNewPrivileges: base.noNewPrivileges || has(parsed, "no-new-privs"),
  };
}

export const exec: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, OPTIONS, true);
  const [id, ...command] = parsed.positionals;
  if (id === undefined) throw new UsageError("usage: diyc-oci exec [OPTIONS] ID [--process FILE | COMMAND...]");
  const preserve = last(parsed, "preserve-fds");
  if (preserve !== undefined && !/^\d+$/.test(preserve)) throw new UsageError(`invalid --preserve-fds ${JSON.stringify(preserve)}: use a number`);
  if (has(parsed, "apparmor") || has(parsed, "process-label")) throw new UsageError("--apparmor and --process-label are not supported: this host has neither AppArmor nor SELinux enabled");
  const processFile = last(parsed, "process");
  let proc: Process;
  if (processFile !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(processFile, "utf8"));
    } catch (error) {
      throw new UsageError(`cannot read --process ${processFile}: ${(error as Error).message}`);
    }
    proc = parseProcess(raw, "process", hostSecurity());
  } else {
    proc = processFromFlags(readContainer(cli.ctx, id).spec.process, parsed, command);
  }
  return execInOciContainer(cli.ctx, {
    id,
    process: proc,
    detach: has(parsed, "detach"),
    pidFile: last(parsed, "pid-file"),
    consoleSocket: last(parsed, "console-socket"),
    preserveFds: preserve === undefined ? 0 : Number(preserve),
  });
};
