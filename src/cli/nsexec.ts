// Entry point of bin/nsexec: `nsexec [-h] [-v] [-p] [-n] [-u HOSTNAME] [-m] [-i] [-U] [-C] CMD [ARG...]`.

import { DiycError, ExitCode, fsErrorAsSyscallError, UsageError } from "../linux/errors";
import { linuxSyscalls } from "../linux/syscalls";
import { traceTo } from "../linux/trace";
import { runNsexec } from "../runtime/nsexec";
import { validateHostname } from "../spec/container-spec";
import { has, last, parseArgs } from "./args";

const HELP = `Usage: nsexec [-h] [-v] [-p] [-n] [-u HOSTNAME] [-m] [-i] [-U] [-C] CMD [ARG...]

Runs a host command in new namespaces. A new mount namespace with private
propagation is always made.
  -p            new pid namespace; /proc is remounted so ps shows only it
  -n            new network namespace (only lo, down)
  -u HOSTNAME   new uts namespace with this hostname
  -m            new mount namespace (always on; accepted for the seed's sake)
  -i            new ipc namespace
  -U            new user namespace, the caller mapped to root
  -C            new cgroup namespace
  -v            print every step
  -h            this help
Example: nsexec -npu myhost sh`;

async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const parsed = parseArgs(argv, [
    { long: "help", short: "h" }, { long: "verbose", short: "v" }, { long: "pid", short: "p" },
    { long: "net", short: "n" }, { long: "uts", short: "u", value: true }, { long: "mount", short: "m" },
    { long: "ipc", short: "i" }, { long: "user", short: "U" }, { long: "cgroup", short: "C" },
  ], true);
  if (has(parsed, "help")) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0) throw new UsageError("nsexec needs a command; see nsexec -h");
  const hostname = last(parsed, "uts");
  const verbose = has(parsed, "verbose");
  return runNsexec(
    {
      syscalls: linuxSyscalls,
      trace: verbose ? traceTo((line) => process.stderr.write(`${line}\n`)) : undefined,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
    },
    {
      pid: has(parsed, "pid"), net: has(parsed, "net"), uts: hostname !== undefined,
      hostname: hostname === undefined ? undefined : validateHostname(hostname),
      ipc: has(parsed, "ipc"), user: has(parsed, "user"), cgroup: has(parsed, "cgroup"),
      command: parsed.positionals,
      env: Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`),
      cwd: process.cwd(),
    },
  );
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (caught) => {
    const error = fsErrorAsSyscallError(caught) ?? caught;
    process.stderr.write(`nsexec: ${error instanceof DiycError ? error.message : `internal error: ${(error as Error).message}`}\n`);
    process.exit(error instanceof DiycError ? error.exitCode : ExitCode.RuntimeError);
  },
);
