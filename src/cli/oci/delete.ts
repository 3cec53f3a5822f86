// diyc-oci delete [--force] ID: a stopped container; --force kills it first (and a missing one is no error).

import { has, parseArgs } from "../args";
import { deleteOciContainer } from "../../runtime/oci/lifecycle";
import { onlyId, type OciCommand } from "./context";

export const del: OciCommand = async (args, cli) => {
  const parsed = parseArgs(args, [{ long: "force", short: "f" }], false);
  const id = onlyId(parsed.positionals, "delete [--force] ID");
  await deleteOciContainer(cli.ctx, id, has(parsed, "force"), cli.warn);
  return 0;
};
