// diyc-oci create --bundle DIR [--pid-file F] [--console-socket S] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID

import { parseArgs, has, last } from "../args";
import { UsageError } from "../../linux/errors";
import { createOciContainer } from "../../runtime/oci/create";
import { onlyId, type OciCommand } from "./context";

export const CREATE_OPTIONS = [
  { long: "bundle", short: "b", value: true },
  { long: "pid-file", value: true },
  { long: "console-socket", value: true },
  { long: "preserve-fds", value: true },
  { long: "no-pivot" },
  { long: "no-new-keyring" },
];

export function createRequest(args: string[], usage: string, extra: { long: string; short?: string; value?: boolean }[] = []) {
  const parsed = parseArgs(args, [...CREATE_OPTIONS, ...extra], false);
  const id = onlyId(parsed.positionals, usage);
  const preserve = last(parsed, "preserve-fds");
  if (preserve !== undefined && !/^\d+$/.test(preserve)) throw new UsageError(`invalid --preserve-fds ${JSON.stringify(preserve)}: use a number`);
  if (has(parsed, "no-pivot")) throw new UsageError("--no-pivot is not supported: diyc always uses pivot_root (a chroot can be escaped)");
  return {
    parsed,
    request: {
      id,
      bundle: last(parsed, "bundle") ?? ".",
      pidFile: last(parsed, "pid-file"),
      consoleSocket: last(parsed, "console-socket"),
      preserveFds: preserve === undefined ? 0 : Number(preserve),
    },
  };
}

export const create: OciCommand = async (args, cli) => {
  const { request } = createRequest(args, "create --bundle DIR [--pid-file F] [--console-socket S] ID");
  await createOciContainer(cli.ctx, request);
  return 0;
};
