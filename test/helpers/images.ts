// Helpers for the image tests: import a file by name, find a single-layer
// image's directory, and list what an aborted import could have left.

import { existsSync, readdirSync } from "node:fs";
import type { Syscalls } from "../../src/linux/syscalls";
import type { Store } from "../../src/store/store";
import { findImage, imageLayout, readRefs } from "../../src/image/images";
import { importImage } from "../../src/image/import";

export async function importFile(store: Store, file: string, name: string | undefined, syscalls: Syscalls) {
  return importImage(store, file, syscalls, { name });
}

export function imageExists(store: Store, name: string): boolean {
  return existsSync(store.imagesDir) && findImage(imageLayout(store), name) !== undefined;
}

/** The top layer's directory of image `name` (the whole rootfs for a one-layer image). */
export function imageRoot(store: Store, name: string): string {
  const layout = imageLayout(store);
  const record = findImage(layout, name);
  if (!record) throw new Error(`no image ${name}`);
  return layout.layerRoot(record.layers.at(-1)!);
}

const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** Everything in the image store: names, records, layers, blobs, staging. Empty lists for an empty store. */
export function storeContents(store: Store): { names: string[]; records: string[]; layers: string[]; blobs: string[]; tmp: string[] } {
  const layout = imageLayout(store);
  return {
    names: existsSync(store.imagesDir) ? Object.keys(readRefs(layout)) : [],
    records: list(layout.recordsDir),
    layers: list(layout.layersDir),
    blobs: list(layout.blobsDir),
    tmp: list(layout.tmpDir),
  };
}

export const EMPTY_STORE = { names: [], records: [], layers: [], blobs: [], tmp: [] };
