// diyc-oci list [--format table|json] [-q]

import { UsageError } from "../../linux/errors";
import { has, last, parseArgs } from "../args";
import { isFrozen } from "../../runtime/oci/freezer";
import { listIds, NotFoundError, readContainer, stateDocument, statusOf } from "../../runtime/oci/state";
import { formatTable } from "../format";
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
    } catch (error) {
      if (error instanceof NotFoundError) return []; // deleted while we listed
      throw error;
    }
  });
  if (format === "json") {
    cli.print(JSON.stringify(states));
    return 0;
  }
  const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, "root"])];
  cli.print(formatTable(rows));
  return 0;
};
