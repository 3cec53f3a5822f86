// diyc-oci start ID

import { parseArgs } from "../args";
import { startOciContainer } from "../../runtime/oci/lifecycle";
import { onlyId, type OciCommand } from "./context";

export const start: OciCommand = async (args, cli) => {
  const id = onlyId(parseArgs(args, [], false).positionals, "start ID");
  await startOciContainer(cli.ctx, id, cli.warn);
  return 0;
};
