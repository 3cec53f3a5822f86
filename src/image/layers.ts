// Unpacking a layer: a (compressed) tar stream in, a directory
// layers/DIFFID/root out, all in one pass and never whole in memory:
//
//   bytes --sha256 (digest)--> gunzip | zstd | as is --sha256 (diff id)--> TarParser --> Extractor
//
// The compressed bytes are hashed as they arrive (the manifest's digest), the
// uncompressed ones too (the config's diff id), and the tar is unpacked into a
// private staging directory under tmp/. Only when the stream has ended and
// both digests match is the directory renamed to layers/DIFFID: a mismatch, a
// corrupt archive, a hostile entry or a kill leaves nothing a container could
// use. A layer already present (another image, or a concurrent pull that won
// the rename) is kept and ours is dropped: each layer is stored once.
//
// Compression is recognised by magic bytes, not by media type, so a layer
// that says gzip but is plain (or the reverse) still unpacks; node:zlib does
// both gzip and zstd as streams. It is imported only here, when a layer is
// unpacked: loading it costs every diyc command ~14 ms of start-up otherwise.

import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Syscalls } from "../linux/syscalls";
import { readJsonIfExists, writeJsonAtomic } from "../store/atomic";
import { ImageError } from "./errors";
import { Extractor, type DeferredOwnership } from "./extract";
import { applyDeferredOwnership, ownershipListFile } from "./ownership";
import { stagingDir, type ImageLayout } from "./layout";
import { TarParser } from "./tar";
import { measureTree, removeTree } from "./tree";

export type Compression = "gzip" | "zstd" | "none";

export interface LayerRecord {
  diffId: string;
  /** Bytes on disk under root/ (hard links counted once). */
  size: number;
  entries: number;
}

export interface UnpackExpectations {
  /** The digest of the bytes as they arrive (a manifest's layer digest); checked at the end. */
  digest?: string;
  /** The digest of the uncompressed tar (the config's diff id); checked at the end. */
  diffId?: string;
  /** For messages: "layer sha256:ab12…". */
  label: string;
  /** Called with the number of (compressed) bytes read so far: progress. */
  onBytes?: (bytes: number) => void;
}

export interface UnpackedLayer extends LayerRecord {
  /** The digest of the bytes read (what a manifest lists). */
  digest: string;
  compressedSize: number;
  compression: Compression;
  /** It was already in the store: nothing was written. */
  existed: boolean;
}

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/** True when layers/DIFFID is complete (it only ever appears complete). */
export function layerExists(layout: ImageLayout, diffId: string): boolean {
  return existsSync(join(layout.layerDir(diffId), "layer.json"));
}

/** Hashes every chunk that passes, and counts them. */
class Counted {
  readonly hasher = new Bun.CryptoHasher("sha256");
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    this.bytes += chunk.length;
  }
  digest(): string {
    return `sha256:${this.hasher.digest("hex")}`;
  }
}

const COMPRESSED_PIECE = 16 << 10;
/**
 * Measured (peak RSS, /usr/bin/time; diyc at rest is 36 MiB): importing a
 * 288 MiB gzip layer, no collection 101 MiB, every 32 MiB 94, 16 MiB 86,
 * 8 MiB 78. Pulling a three-layer image of many small files (the bench's),
 * every 8 MiB 93-96 MiB, every 4 MiB 85, every 2 MiB 82. 4 MiB it is, for
 * a few percent of the time. The peak does not grow with a layer's size
 * (1 GiB: the same), only with how much garbage is let pile up.
 */
const GC_EVERY_BYTES = 4 << 20;
/** Counted across layers unpacked at once (a pull runs several). */
let sinceCollection = 0;

/**
 * Yields `source` decompressed as its first bytes say. The generator's
 * return() (the consumer stopped: an error downstream) tears down the
 * decompressor and the source with it.
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array>, onCompression: (kind: Compression) => void,
): AsyncGenerator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  // Enough bytes to see the magic (a network chunk may be tiny).
  const head: Uint8Array[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 4) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = Buffer.concat(head);
  const kind = detectCompression(first);
  onCompression(kind);
  async function* replay(): AsyncGenerator<Uint8Array> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  if (kind === "none") {
    try {
      yield* replay();
    } finally {
      await iterator.return?.();
    }
    return;
  }
  const zlib = await import("node:zlib");
  const { Readable, pipeline } = await import("node:stream");
  const decompressor = kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
  // The decompressor turns each write into all of its output at once: a
  // compressed MiB of zeroes is a GiB. Small writes bound what it can make
  // before backpressure stops the next one (gzip tops out near 1000:1).
  async function* small(): AsyncGenerator<Uint8Array> {
    for await (const chunk of replay()) {
      for (let at = 0; at < chunk.length; at += COMPRESSED_PIECE) yield chunk.subarray(at, at + COMPRESSED_PIECE);
    }
  }
  const input = Readable.from(small(), { objectMode: false });
  let failure: Error | undefined;
  const output = pipeline(input, decompressor, (error) => {
    if (error) failure = error;
  });
  try {
    for await (const chunk of output) yield chunk as Uint8Array;
  } catch (error) {
    throw new ImageError(`corrupt ${kind} data: ${(failure ?? (error as Error)).message}`, { cause: error });
  } finally {
    output.destroy();
    await iterator.return?.();
  }
}

/**
 * Unpacks one layer from `source` into the store (see the top of this file).
 * The caller holds the images lock (shared).
 */
export async function unpackLayer(
  layout: ImageLayout, source: AsyncIterable<Uint8Array>, expect: UnpackExpectations, syscalls: Syscalls,
): Promise<UnpackedLayer> {
  layout.ensure();
  const staging = stagingDir(layout, "layer");
  const root = join(staging, "root");
  mkdirSync(root, 0o755);
  const raw = new Counted();
  const plain = new Counted();
  let compression: Compression = "none";
  // Only root can give files away. A rootless store gives them away in a
  // second pass, in a user namespace (ownership.ts); an unprivileged import
  // into a store of root's keeps its own ids.
  const owner = layout.store.rootless;
  const deferred = owner ? new Map<string, DeferredOwnership>() : undefined;
  const extractor = new Extractor(root, syscalls, { preserveOwnership: process.geteuid?.() === 0, deferred });
  const parser = new TarParser(extractor);
  try {
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        raw.update(chunk);
        expect.onBytes?.(raw.bytes);
        yield chunk;
      }
    }
    for await (const chunk of decompress(counted(), (kind) => (compression = kind))) {
      plain.update(chunk);
      parser.push(chunk);
      sinceCollection += chunk.length;
      // Every chunk read is garbage a moment later; the collector, left to
      // itself, lets 60 MiB of them pile up. A collection every few MiB keeps
      // the peak flat (see GC_EVERY_BYTES and the RSS test), a few ms each.
      if (sinceCollection >= GC_EVERY_BYTES) {
        sinceCollection = 0;
        Bun.gc(true);
      }
    }
    parser.end();
    extractor.finish();
    const digest = raw.digest();
    const diffId = plain.digest();
    if (expect.digest !== undefined && digest !== expect.digest) {
      throw new ImageError(`${expect.label}: digest mismatch: expected ${expect.digest}, got ${digest} (${raw.bytes} bytes)`);
    }
    if (expect.diffId !== undefined && diffId !== expect.diffId) {
      throw new ImageError(`${expect.label}: uncompressed digest mismatch: the config says ${expect.diffId}, the layer is ${diffId}`);
    }
    const base = { digest, compressedSize: raw.bytes, compression };
    if (layerExists(layout, diffId)) {
      removeTree(staging, layout.store.rootless);
      return { ...base, ...readLayerRecord(layout, diffId), existed: true };
    }
    // The archive's entries (whiteouts and links included), the tree's size.
    const record: LayerRecord = { diffId, size: measureTree(root).size, entries: extractor.entries };
    // Measured first: the user cannot read a directory once it is a subordinate id's (0700).
    if (owner && deferred) applyDeferredOwnership(owner, root, deferred, ownershipListFile(staging));
    if (!installLayer(layout, staging, record)) return { ...base, ...readLayerRecord(layout, diffId), existed: true };
    return { ...base, ...record, existed: false };
  } catch (error) {
    extractor.abort();
    removeTree(staging, layout.store.rootless);
    throw error;
  }
}

/**
 * Puts a complete staging directory (root/ written, `record` measured) in
 * place as layers/DIFFID, record first: layers/DIFFID only ever appears
 * whole. Returns false when a concurrent unpack of the same layer won the
 * rename: ours is removed, and each layer is stored once.
 */
export function installLayer(layout: ImageLayout, staging: string, record: LayerRecord): boolean {
  writeJsonAtomic(join(staging, "layer.json"), record);
  try {
    renameSync(staging, layout.layerDir(record.diffId));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    removeTree(staging, layout.store.rootless);
    return false;
  }
}

export function readLayerRecord(layout: ImageLayout, diffId: string): LayerRecord {
  const path = join(layout.layerDir(diffId), "layer.json");
  const parsed = readJsonIfExists<Partial<LayerRecord>>(path);
  if (parsed === undefined) throw new ImageError(`${path} is missing: the layer's record was lost; remove the image and pull it again`);
  return { diffId, size: Number(parsed.size ?? 0), entries: Number(parsed.entries ?? 0) };
}
