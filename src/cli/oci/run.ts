// diyc-oci run --bundle DIR [-d] [--pid-file F] [--console-socket S] ID

import { has } from "../args";
import { runOciContainer } from "../../runtime/oci/lifecycle";
import { createRequest } from "./create";
import type { OciCommand } from "./context";

export const run: OciCommand = async (args, cli) => {
  const { parsed, request } = createRequest(args, "run --bundle DIR [-d] [--pid-file F] [--console-socket S] ID", [
    { long: "detach", short: "d" },
    { long: "keep" },
  ]);
  return runOciContainer(cli.ctx, { ...request, detach: has(parsed, "detach") }, cli.warn);
};
