// diyc-oci state ID: the runtime-spec state JSON.

import { parseArgs } from "../args";
import { readContainer, stateDocument, statusOf } from "../../runtime/oci/state";
import { isFrozen } from "../../runtime/oci/freezer";
import { onlyId, type OciCommand } from "./context";

export const state: OciCommand = async (args, cli) => {
  const id = onlyId(parseArgs(args, [], false).positionals, "state ID");
  const container = readContainer(cli.ctx, id);
  cli.print(JSON.stringify(stateDocument(cli.ctx, container, statusOf(cli.ctx, container, () => isFrozen(container))), null, 2));
  return 0;
};
