// `diyc _own ROOT LIST`: not for users. Rootless diyc runs it as root of a
// user namespace with the user's map, to give an image layer's files their
// owners (src/image/ownership.ts).

import { UsageError } from "../linux/errors";
import { applyOwnershipList } from "../image/ownership";
import type { Command } from "./context";

export const own: Command = async (args) => {
  const [root, list] = args;
  if (!root || !list || args.length !== 2) throw new UsageError("_own needs a layer root and a list file");
  applyOwnershipList(root, list);
  return 0;
};
