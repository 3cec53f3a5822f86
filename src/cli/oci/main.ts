// bin/diyc-oci: the runc-compatible command line that podman (through
// conmon) and the containerd shim drive. Global options, then one command per
// file in this directory. The only place that turns errors into output: one
// line on stderr, and with --log FILE the same as a line of FILE, a JSON
// object {"level":"error","msg":...,"time":...} with --log-format json
// (conmon and the shim show the user that message), logfmt otherwise.

import { appendFileSync, writeSync } from "node:fs";
import { DiycError, ExitCode, fsErrorAsSyscallError, UsageError } from "../../linux/errors";
import { linuxSyscalls } from "../../linux/syscalls";
import { DEFAULT_OCI_ROOT } from "../../runtime/oci/state";
import type { OciCli, OciCommand } from "./context";
import { create } from "./create";
import { del } from "./delete";
import { exec } from "./exec";
import { features } from "./features";
import { kill } from "./kill";
import { list } from "./list";
import { pause, resume } from "./pause";
import { ps } from "./ps";
import { run } from "./run";
import { spec } from "./spec";
import { start } from "./start";
import { state } from "./state";
import { update } from "./update";

export const VERSION = "0.1.0";

const COMMANDS: Record<string, OciCommand> = {
  create, start, run, state, kill, delete: del, list, ps, exec, pause, resume, update, features, spec,
};

const HELP = `Usage: diyc-oci [GLOBAL OPTIONS] COMMAND [ARG...]

A runc-compatible OCI runtime: podman (--runtime) and containerd (BinaryName)
run their containers with diyc. See docs/oci-runtime.md.

Commands:
  create --bundle DIR [--pid-file F] [--console-socket S] ID   set up a container, parked before its process
  start ID                     run the created container's process
  run --bundle DIR [-d] ID     create and start (in the foreground: wait for it)
  state ID                     the runtime-spec state JSON
  kill [--all] ID [SIGNAL]     send a signal (default TERM)
  delete [--force] ID          remove a stopped container (--force: kill it first)
  list [--format table|json] [-q]
  ps [--format table|json] ID  the container's processes
  exec [OPTIONS] ID [--process FILE | COMMAND...]   run a process in the container
  pause ID / resume ID         freeze and thaw the container
  update --resources FILE|- ID new cgroup limits
  features                     what this runtime supports (JSON)
  spec                         write a default config.json

Global options:
  --root DIR              state directory (default ${DEFAULT_OCI_ROOT})
  --log FILE              also write errors (and --debug lines) to FILE
  --log-format text|json  the format of --log (default text)
  --debug                 log each step
  --systemd-cgroup        refused: no systemd cgroup driver yet
  -v, --version           print the version
  -h, --help              this help`;

interface Globals {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
  rest: string[];
}

/** Global options come before the command, as runc takes them. */
function takeGlobals(argv: string[]): Globals {
  const globals: Globals = { root: DEFAULT_OCI_ROOT, logFormat: "text", debug: false, rest: [] };
  let i = 0;
  const value = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = argv[++i];
    if (next === undefined) throw new UsageError(`option --${name} needs a value`);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) break;
    const eq = arg.indexOf("=");
    const name = arg.replace(/^--?/, "").slice(0, eq < 0 ? undefined : eq - (arg.startsWith("--") ? 2 : 1));
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    switch (name) {
      case "root": globals.root = value(name, inline); break;
      case "log": globals.log = value(name, inline); break;
      case "log-format": {
        const format = value(name, inline);
        if (format !== "text" && format !== "json") throw new UsageError(`invalid --log-format ${JSON.stringify(format)}: use text or json`);
        globals.logFormat = format;
        break;
      }
      case "debug": globals.debug = true; break;
      case "systemd-cgroup":
        throw new UsageError("--systemd-cgroup is not supported: diyc-oci has no systemd cgroup driver yet; use cgroupfs (podman: cgroup_manager = \"cgroupfs\"; containerd: SystemdCgroup = false)");
      case "rootless": if ((inline ?? "auto") !== "false" && (inline ?? "auto") !== "auto") throw new UsageError("--rootless is not supported by diyc-oci yet"); break;
      case "criu": value(name, inline); break; // checkpointing is not supported; the path is accepted and unused
      case "v": case "version": globals.rest = ["--version"]; return globals;
      case "h": case "help": globals.rest = ["--help"]; return globals;
      default: throw new UsageError(`unknown global option ${arg}`);
    }
  }
  if (globals.root === "") throw new UsageError("--root needs a directory");
  globals.rest = argv.slice(i);
  return globals;
}

function writeBestEffort(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // best effort: a closed stderr must not turn one error into another
  }
}

function logLine(globals: Pick<Globals, "log" | "logFormat">, level: "error" | "warning" | "debug", msg: string): void {
  if (!globals.log) return;
  const time = new Date().toISOString();
  const line = globals.logFormat === "json"
    ? JSON.stringify({ level, msg, time })
    : `time=${JSON.stringify(time)} level=${level} msg=${JSON.stringify(msg)}`;
  try {
    appendFileSync(globals.log, `${line}\n`);
  } catch {
    // best effort: the error still goes to stderr
  }
}

/** --log and --log-format alone, leniently: an error in any other global option still reaches the log. */
function logOptions(argv: string[]): Pick<Globals, "log" | "logFormat"> {
  const found: Pick<Globals, "log" | "logFormat"> = { logFormat: "text" };
  for (let i = 0; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[i + 1];
    if (name === "--log") found.log = value;
    else if (name === "--log-format" && value === "json") found.logFormat = "json";
    else continue;
    if (inline === undefined) i++;
  }
  return found;
}

export interface OciInvocation {
  argv: string[];
  euid: number;
}

export async function main(invocation: OciInvocation): Promise<number> {
  let globals: Pick<Globals, "log" | "logFormat"> = { logFormat: "text" };
  try {
    globals = logOptions(invocation.argv);
    const parsed = takeGlobals(invocation.argv);
    globals = parsed;
    const [name, ...args] = parsed.rest;
    if (name === "--version") {
      writeBestEffort(1, `diyc-oci version ${VERSION}\nspec: 1.0.2\n`);
      return 0;
    }
    if (name === undefined || name === "--help" || name === "help") {
      writeBestEffort(name === undefined ? 2 : 1, `${HELP}\n`);
      return name === undefined ? ExitCode.RuntimeError : 0;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; see diyc-oci --help`);
    // Refused up front: without root, a kernel step would fail half-way. (diyc itself runs rootless: docs/rootless.md.)
    if (invocation.euid !== 0 && name !== "features") {
      throw new DiycError(`this runtime needs root (uid 0; this is uid ${invocation.euid}): rootless containers are diyc's (diyc run as an ordinary user), not yet the OCI runtime's`);
    }
    const cli: OciCli = {
      ctx: {
        root: parsed.root,
        syscalls: linuxSyscalls,
        debug: parsed.debug ? (line) => {
          writeBestEffort(2, `diyc-oci: ${line}\n`);
          logLine(parsed, "debug", line);
        } : undefined,
      },
      print: (text) => writeBestEffort(1, `${text}\n`),
      warn: (message) => {
        writeBestEffort(2, `diyc-oci: warning: ${message}\n`);
        logLine(parsed, "warning", message);
      },
    };
    return await command(args, cli);
  } catch (caught) {
    const error = fsErrorAsSyscallError(caught) ?? caught;
    const message = error instanceof DiycError
      ? error.message
      : `internal error: ${(error as Error)?.message ?? String(error)}${process.env.DIYC_DEBUG ? `\n${(error as Error)?.stack}` : ""}`;
    writeBestEffort(2, `diyc-oci: ${message}\n`);
    logLine(globals, "error", message);
    return error instanceof DiycError ? error.exitCode : ExitCode.RuntimeError;
  }
}
