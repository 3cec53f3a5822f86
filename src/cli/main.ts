// The dispatcher: global options, then one command per file in src/cli/.
// It is the only place that turns errors into output: one line on stderr,
// `diyc: <message>`, and the error's exit code. Never a stack trace.

import { writeSync } from "node:fs";
import type { TrackedEnvironment } from "./env-reads";
// Bundled into the binary at build time (bun build --compile).
import packageJson from "../../package.json" with { type: "json" };
import { DiycError, ExitCode, fsErrorAsSyscallError, UsageError } from "../linux/errors";
import { rootlessIdentity } from "../linux/rootless";
import { linuxSyscalls } from "../linux/syscalls";
import { resolveNetworkRegistry, resolveStoreRoot, Store, type RootlessOwner } from "../store/store";
import { cleanup } from "./cleanup";
import { own } from "./own";
import { finish } from "./finish";
import type { CliContext, Command } from "./context";
import { image } from "./image";
import { network } from "./network";
import { rm } from "./rm";
import { run, RUN_HELP } from "./run";
import { stats } from "./stats";
import { exec } from "./exec";
import { inspect } from "./inspect";
import { logs } from "./logs";
import { login, logout } from "./login";
import { port } from "./port";
import { pull } from "./pull";
import { ps } from "./ps";
import { start } from "./start";
import { kill, stop } from "./stop";

const COMMANDS: Record<string, Command> = {
  run,
  start,
  stop,
  kill,
  exec,
  ps,
  port,
  logs,
  inspect,
  rm,
  image,
  pull,
  login,
  logout,
  network,
  stats,
  _cleanup: cleanup,
  _own: own,
  _finish: finish,
};

const HELP = `Usage: diyc [--root DIR] COMMAND [ARG...]
       diyc [run options] NAME IMAGE CMD...     (the seed's form: same as diyc run)

Commands:
  run      run a command in a new container (-d: detached)
  start    start an exited container again
  stop     stop containers (SIGTERM, then SIGKILL)
  kill     send a signal to containers
  exec     run a command in a running container
  ps       list containers
  port     where a container's ports are published on the host
  logs     a container's output
  inspect  a container's configuration and state, as JSON
  rm       delete containers
  image    import, list, inspect, remove and prune images
  pull     fetch an image from a registry
  login    store credentials for a registry (logout forgets them)
  network  set up, list and clean container networks
  stats    CPU, memory and pids of running containers

Global options:
  -v, --verbose    print every kernel step (also after the command's name)
  --root DIR       the store (default /var/lib/diyc, or $DIYC_ROOT; for an
                   ordinary user, rootless: $XDG_DATA_HOME/diyc)
  --networks DIR   the network registry shared by stores (default
                   /var/lib/diyc/network, or $DIYC_NETWORKS; rootless: the store's)
  --version        print diyc's version
  -h, --help   this help

The built-in image "busybox" needs no import. See diyc run --help.`;

/**
 * Output never interrupts work: with stderr piped into `head`, a -v line must
 * not throw EPIPE in the middle of a kernel step or of undoing one (that
 * leaked a cgroup once). Best effort: a reader that went away reads nothing.
 */
function writeBestEffort(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // best effort, as above
  }
}

export interface Invocation {
  argv: string[];
  env: Record<string, string | undefined>;
  /** The same environment, with the names read so far (cli/env-reads.ts); absent in tests that call main. */
  environment?: TrackedEnvironment;
  diycCommand: string[];
  /** The effective uid: 0 is root; any other is rootless (docs/rootless.md). */
  euid: number;
  egid: number;
}

function takeGlobalOptions(argv: string[]): { root?: string; networks?: string; verbose: boolean; rest: string[] } {
  const rest = [...argv];
  const found: { root?: string; networks?: string } = {};
  let verbose = false;
  while (rest.length > 0) {
    const arg = rest[0]!;
    // `diyc -v COMMAND ...`: -v before a command's name applies to it. Before
    // anything else (the seed's `diyc -v NAME IMAGE CMD`) it is run's -v, the same thing.
    if ((arg === "-v" || arg === "--verbose") && rest.length > 1 && COMMANDS[rest[1]!] !== undefined) {
      verbose = true;
      rest.shift();
      continue;
    }
    const option = (["root", "networks"] as const).find((o) => arg === `--${o}` || arg.startsWith(`--${o}=`));
    if (option === undefined) break;
    if (arg === `--${option}`) {
      if (rest.length < 2) break;
      found[option] = rest[1];
      rest.splice(0, 2);
    } else {
      found[option] = arg.slice(option.length + 3);
      rest.shift();
    }
  }
  return { ...found, verbose, rest };
}

/** The rootless identity; a user without one may still ask for help (rootlessIdentity says what is missing otherwise). */
function identityUnlessHelp(invocation: Invocation, informational: boolean): RootlessOwner | undefined {
  try {
    return { ...rootlessIdentity(invocation.euid, invocation.egid), diycCommand: invocation.diycCommand };
  } catch (error) {
    if (informational) return undefined;
    throw error;
  }
}

export async function main(invocation: Invocation): Promise<number> {
  // Synchronous writes: process.stderr's first use costs ~16 ms in Bun, and
  // -v lines must appear in order with the init's own (which go straight to fd 2).
  const log = (line: string) => writeBestEffort(2, `${line}\n`);
  try {
    const { root, networks, verbose, rest } = takeGlobalOptions(invocation.argv);
    if (root === "") throw new DiycError("--root needs a directory");
    if (networks === "") throw new DiycError("--networks needs a directory");
    const [first, ...args] = rest;
    const informational = first === undefined || ["--version", "version", "-h", "--help", "help"].includes(first) || args.includes("--help") || args.includes("-h");
    // An ordinary user runs rootless (linux/rootless.ts): a store of their own, their subordinate ids.
    // Whatever the arguments: a "-h" may be the container's (`diyc run --rm busybox ls -h`). Only
    // help, which uses no store, goes on without an identity the user cannot have.
    const rootless = invocation.euid === 0 ? undefined : identityUnlessHelp(invocation, informational);
    const storeRoot = resolveStoreRoot(root, invocation.env, invocation.euid !== 0);
    const ctx: CliContext = {
      store: new Store(storeRoot, resolveNetworkRegistry(networks, invocation.env, storeRoot, invocation.euid !== 0), rootless),
      syscalls: linuxSyscalls,
      verbose,
      log,
      print: (line) => writeBestEffort(1, `${line}\n`),
      diycCommand: invocation.diycCommand,
      env: invocation.env,
      environment: invocation.environment,
    };
    if (first === "--version" || first === "version") {
      ctx.print(`diyc version ${packageJson.version}`);
      return 0;
    }
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      ctx.print(first === undefined ? HELP : `${HELP}\n\n${RUN_HELP}`);
      return first === undefined ? ExitCode.RuntimeError : 0;
    }
    const command = COMMANDS[first];
    if (command) return await command(args, ctx);
    // Anything else is the seed's form, diyc [options] NAME IMAGE CMD; a lone
    // word is more likely a mistyped command than a container without an image.
    if (rest.length === 1 && !first.startsWith("-")) throw new UsageError(`unknown command ${JSON.stringify(first)}; see diyc --help`);
    return await run(rest, ctx);
  } catch (caught) {
    // A failed file operation (node:fs) names its syscall, errno and path like any SyscallError.
    const error = fsErrorAsSyscallError(caught) ?? caught;
    if (error instanceof DiycError) {
      log(`diyc: ${error.message}`);
      return error.exitCode;
    }
    // A bug, not bad input: still one line, with enough to report it.
    const err = error as Error;
    log(`diyc: internal error: ${err?.message ?? String(error)}${invocation.env.DIYC_DEBUG ? `\n${err?.stack}` : " (set DIYC_DEBUG=1 for details)"}`);
    return ExitCode.RuntimeError;
  }
}
