// The containers of a store: every directory under containers/ with a valid name.

import { readdirSync } from "node:fs";
import { NAME_PATTERN } from "../spec/names";
import type { Store } from "../store/store";

export function listContainerNames(store: Store): string[] {
  let entries: string[];
  try {
    entries = readdirSync(store.containersDir);
  } catch {
    return []; // no containers directory yet: an empty store
  }
  return entries.filter((name) => NAME_PATTERN.test(name)).sort();
}
