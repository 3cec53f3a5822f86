// diyc-oci ps [--format table|json] ID: the container's processes (json: an array of host pids).

import { readFileSync } from "node:fs";
import { UsageError } from "../../linux/errors";
import { last, parseArgs } from "../args";
import { cgroupPids } from "../../runtime/oci/lifecycle";
import { readContainer } from "../../runtime/oci/state";
import type { OciCommand } from "./context";

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return ""; // exited while we listed
  }
}

export const ps: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, [{ long: "format", short: "f", value: true }], true);
  const format = last(parsed, "format") ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`invalid --format ${JSON.stringify(format)}: use table or json`);
  const [id] = parsed.positionals;
  if (id === undefined) throw new UsageError("usage: diyc-oci ps [--format table|json] ID");
  const pids = cgroupPids(readContainer(cli.ctx, id));
  if (format === "json") {
    cli.print(JSON.stringify(pids));
    return 0;
  }
  cli.print(["PID   CMD", ...pids.map((pid) => `${String(pid).padEnd(6)}${commandLine(pid)}`)].join("\n"));
  return 0;
};
