// `diyc inspect NAME...`: everything about containers, as JSON: the OCI spec,
// the state, the network, the limits.

import { DiycError, UsageError } from "../linux/errors";
import { inspectContainer } from "../runtime/inspect";
import { validateName } from "../spec/names";
import type { Command } from "./context";

export const inspect: Command = async (args, ctx) => {
  if (args.length === 0 || args.includes("-h") || args.includes("--help")) {
    if (args.length === 0) throw new UsageError("inspect needs at least one container name");
    ctx.print("Usage: diyc inspect NAME...\n\nPrints each container's configuration (the OCI spec), state, network and limits as JSON.");
    return 0;
  }
  const views = args.map((name) => {
    const view = inspectContainer(ctx.store, validateName("container", name));
    if (!view) throw new DiycError(`no such container: ${name}`);
    if (!view.config) return { ...view, network: null, limits: null }; // incomplete: nothing was configured
    return { ...view, network: view.config.network ?? { mode: "host" }, limits: view.config.spec.linux.resources ?? {} };
  });
  ctx.print(JSON.stringify(views, null, 2));
  return 0;
};
