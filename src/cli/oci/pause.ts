// diyc-oci pause ID / resume ID: freeze and thaw every process of the container.

import { parseArgs } from "../args";
import { pauseOciContainer, resumeOciContainer } from "../../runtime/oci/freezer";
import { onlyId, type OciCommand } from "./context";

export const pause: OciCommand = async (args, cli) => {
  await pauseOciContainer(cli.ctx, onlyId(parseArgs(args, [], false).positionals, "pause ID"));
  return 0;
};

export const resume: OciCommand = async (args, cli) => {
  await resumeOciContainer(cli.ctx, onlyId(parseArgs(args, [], false).positionals, "resume ID"));
  return 0;
};
