// diyc-oci update --resources FILE|- ID: new linux.resources for a running container
// (also runc's --memory, --cpu-quota, ... flags for the common ones).

import { readFileSync } from "node:fs";
import { UsageError } from "../../linux/errors";
import { last, parseArgs } from "../args";
import { updateOciContainer } from "../../runtime/oci/update";
import { parseResources } from "../../spec/bundle";
import { onlyId, type OciCommand } from "./context";

const NUMBER_FLAGS: [flag: string, path: string[]][] = [
  ["memory", ["memory", "limit"]], ["memory-swap", ["memory", "swap"]], ["cpu-shares", ["cpu", "shares"]],
  ["cpu-quota", ["cpu", "quota"]], ["cpu-period", ["cpu", "period"]], ["pids-limit", ["pids", "limit"]],
];

export const update: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, [
    { long: "resources", short: "r", value: true }, { long: "cpuset-cpus", value: true }, { long: "cpuset-mems", value: true },
    ...NUMBER_FLAGS.map(([flag]) => ({ long: flag, value: true })),
  ], false);
  const id = onlyId(parsed.positionals, "update --resources FILE|- ID");
  const file = last(parsed, "resources");
  let raw: Record<string, Record<string, unknown>> = {};
  if (file !== undefined) {
    try {
      raw = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
    } catch (error) {
      throw new UsageError(`cannot read --resources ${file}: ${(error as Error).message}`);
    }
  }
  for (const [flag, [group, key]] of NUMBER_FLAGS) {
    const value = last(parsed, flag);
    if (value === undefined) continue;
    if (!/^-?\d+$/.test(value)) throw new UsageError(`invalid --${flag} ${JSON.stringify(value)}: use a number`);
    (raw[group!] ??= {})[key!] = Number(value);
  }
  if (last(parsed, "cpuset-cpus") !== undefined) (raw.cpu ??= {}).cpus = last(parsed, "cpuset-cpus");
  if (last(parsed, "cpuset-mems") !== undefined) (raw.cpu ??= {}).mems = last(parsed, "cpuset-mems");
  await updateOciContainer(cli.ctx, id, parseResources(raw, "resources"));
  return 0;
};
