// From a manifest to an image in the store, whatever the blobs come from (a
// registry, an OCI layout, a docker-archive): the config is fetched and
// checked, each layer not yet in the store is streamed through unpackLayer
// (a few at a time), and the image is committed. Used by pull and import.

import { asDiycError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import { ImageError } from "./errors";
import { commitImage, sha256, type ImageRecord } from "./images";
import { layerExists, unpackLayer } from "./layers";
import { withImagesLock, type ImageLayout } from "./layout";
import { parseConfig, parseManifest, type Descriptor } from "./oci-image";

/** Where the blobs of one image come from. */
export interface BlobSource {
  /** A small blob (config), whole; the caller checks its digest. */
  readBlob(descriptor: Descriptor): Promise<Uint8Array>;
  /** A layer, as a stream of its bytes as stored (compressed or not). */
  streamBlob(descriptor: Descriptor): Promise<AsyncIterable<Uint8Array>>;
}

export interface Progress {
  layer?(descriptor: Descriptor, event: "exists" | "start" | "done", info?: { compression?: string; size?: number }): void;
  bytes?(descriptor: Descriptor, received: number): void;
}

/** Layers unpacked at once: enough to overlap network and disk, few enough for memory. */
const PARALLEL_LAYERS = 3;

export async function materializeImage(
  layout: ImageLayout, syscalls: Syscalls, source: BlobSource,
  manifestBytes: Uint8Array, label: string, names: string[], progress: Progress = {},
): Promise<ImageRecord> {
  const manifestDigest = sha256(manifestBytes);
  const manifest = parseManifest(`${label}: manifest ${manifestDigest}`, manifestBytes);
  const configBytes = await source.readBlob(manifest.config);
  const configDigest = sha256(configBytes);
  if (configDigest !== manifest.config.digest) {
    throw new ImageError(`${label}: config ${manifest.config.digest}: digest mismatch: got ${configDigest}`);
  }
  const config = parseConfig(`${label}: config ${configDigest}`, configBytes);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new ImageError(`${label}: the manifest has ${manifest.layers.length} layers, the config ${diffIds.length} diff ids`);
  }
  // Held from the first layer to the commit: no prune deletes a layer this image is about to name.
  return withImagesLock(layout, syscalls, "shared", async () => {
    const queue = manifest.layers.map((descriptor, index) => ({ descriptor, diffId: diffIds[index]! }));
    const worker = async () => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const { descriptor, diffId } = job;
        if (layerExists(layout, diffId)) {
          progress.layer?.(descriptor, "exists");
          continue;
        }
        progress.layer?.(descriptor, "start");
        const layerLabel = `${label}: layer ${descriptor.digest}`;
        const stream = await source.streamBlob(descriptor);
        const unpacked = await unpackLayer(layout, stream, {
          digest: descriptor.digest, diffId, label: layerLabel, onBytes: (n) => progress.bytes?.(descriptor, n),
        }, syscalls).catch((error: unknown) => {
          // Every failure names the blob: "corrupt zstd data" alone would not say which.
          const message = asDiycError(error).message;
          throw message.startsWith(layerLabel) ? error : new ImageError(`${layerLabel}: ${message}`, { cause: error });
        });
        progress.layer?.(descriptor, "done", { compression: unpacked.compression, size: unpacked.size });
      }
    };
    const workers = Array.from({ length: Math.min(PARALLEL_LAYERS, queue.length) }, worker);
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return commitImage(layout, syscalls, { manifest: manifestBytes, manifestDigest, config: configBytes, configDigest, source: label }, names);
  });
}
