// diyc-oci list [--format table|json] [-q]

import { UsageError } from "../../linux/errors";
import { has, last, parseArgs } from "../args";
import { isFrozen } from "../../runtime/oci/freezer";
import { listIds, readContainer, stateDocument, statusOf } from "../../runtime/oci/state";
import type { OciCommand } from "./context";

export const list: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, [{ long: "format", short: "f", value: true }, { long: "quiet", short: "q" }], false);
  const format = last(parsed, "format") ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError(`invalid --format ${JSON.stringify(format)}: use table or json`);
  const ids = listIds(cli.ctx);
  if (has(parsed, "quiet")) {
    if (ids.length > 0) cli.print(ids.join("\n"));
    return 0;
  }
  const states = ids.flatMap((id) => {
    try {
      const c = readContainer(cli.ctx, id);
      return [stateDocument(cli.ctx, c, statusOf(cli.ctx, c, () => isFrozen(c)))];
    } catch {
      return []; // deleted while we listed
    }
  });
  if (format === "json") {
    cli.print(JSON.stringify(states));
    return 0;
  }
  const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, "root"])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  cli.print(rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join("")).join("\n"));
  return 0;
};
