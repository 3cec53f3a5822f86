// `image import`: a rootfs tarball (plain, gzip or zstd), an OCI image layout
// (a directory, or a tar of one as `skopeo copy oci-archive:` writes), or a
// docker-archive (`docker save`, `podman save`). Which one is decided from
// the content, never the file name:
//
//   a directory with oci-layout and index.json         -> OCI layout
//   a tar whose top level is oci-layout/index.json/blobs/ -> OCI archive
//   a tar whose top level has manifest.json and layer
//     tars (<id>/layer.tar, <hex>.json, repositories)  -> docker-archive
//   any other tar                                      -> a rootfs: one layer
//
// The scan reads headers only until the first name that cannot belong to an
// image archive (a rootfs has "bin/" or "etc/" right away). Archives are
// then read in place: a layer is a byte range of the (uncompressed) tar,
// streamed from the file. stdin ("-"), and a compressed image archive, are
// first copied to a file under tmp/, never into memory.

import { closeSync, createReadStream, createWriteStream, openSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { asDiycError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import type { Store } from "../store/store";
import { ImageError } from "./errors";
import { commitImage, imageLayout, sha256, singleLayerImage, type ImageRecord } from "./images";
import { decompress, unpackLayer } from "./layers";
import { hexOf, stagingDir, withImagesLock, type ImageLayout } from "./layout";
import { materializeImage, type BlobSource, type Progress } from "./materialize";
import { choosePlatform, hostPlatform, isIndex, MediaType, parseIndex, parseJson, type Descriptor, type Platform } from "./oci-image";
import { parseReference } from "./reference";
import { MAX_DOCUMENT_BYTES } from "./registry";
import { TarParser, type TarEntry } from "./tar";
import { removeTree } from "./tree";
import { normalizeEntryPath } from "./extract";

/** Reads of 64 KiB: bigger ones only raise the peak of garbage waiting for the collector. */
const READ_CHUNK = 64 << 10;

export type ImportKind = "rootfs" | "oci-layout" | "oci-archive" | "docker-archive";

export interface ImportOptions {
  /** The name to give the image; an archive's own names (RepoTags, ref.name) are used without it. */
  name?: string;
  platform?: Platform;
  /** For "-": where to read from. */
  stdin?: () => AsyncIterable<Uint8Array>;
  progress?: Progress;
}

export interface ImportResult {
  kind: ImportKind;
  record: ImageRecord;
  names: string[];
}

/** Files that may appear at the top of an image archive; anything else means a rootfs tarball. */
function belongsToImageArchive(parts: string[]): boolean {
  const [top, ...rest] = parts;
  if (top === undefined) return true;
  if (["oci-layout", "index.json", "manifest.json", "repositories", "blobs"].includes(top)) return true;
  if (/^[a-f0-9]{64}(\.json|\.tar)?$/.test(top)) return rest.length <= 1; // docker-archive: <id>/layer.tar, <id>.json, <digest>.tar
  return false;
}

/** Where each file of an uncompressed tar is: its data's offset and size. */
interface TarIndex {
  files: Map<string, { offset: number; size: number }>;
  /** The scan stopped at a name no image archive has. */
  isRootfs: boolean;
  compressed: boolean;
}

export async function importImage(store: Store, input: string, syscalls: Syscalls, options: ImportOptions = {}): Promise<ImportResult> {
  const shown = input === "-" ? "stdin" : input;
  const layout = imageLayout(store);
  if (options.name !== undefined) parseReference(options.name); // bad names before any work
  try {
    layout.ensure();
    if (input !== "-" && isDirectory(input)) return await importLayoutDirectory(layout, resolve(input), syscalls, options);
    let spooled: string | undefined;
    let file = input === "-" ? undefined : resolve(input);
    try {
      if (file === undefined) {
        if (!options.stdin) throw new ImageError("no standard input to read");
        spooled = stagingDir(layout, "import");
        file = join(spooled, "stdin");
        await spool(options.stdin(), file);
      }
      const original = file;
      // Image archives are read by byte ranges: a compressed one is kept uncompressed on disk, written as it is scanned.
      spooled ??= stagingDir(layout, "import");
      const index = await scanTar(file, join(spooled, "plain.tar"));
      if (index.isRootfs) return await importRootfs(layout, file, syscalls, options, input === "-" ? "tarball (stdin)" : `tarball ${file}`);
      if (index.compressed) file = join(spooled, "plain.tar");
      return await importArchive(layout, file, index, syscalls, options, input === "-" ? "stdin" : original);
    } finally {
      if (spooled) removeTree(spooled);
    }
  } catch (error) {
    const diycError = asDiycError(error);
    throw new ImageError(`image import ${shown}: ${diycError.message}`, { cause: error });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw asDiycError(error, resolve(path));
    return false;
  }
}

async function spool(source: AsyncIterable<Uint8Array>, path: string): Promise<void> {
  const out = createWriteStream(path, { mode: 0o600 });
  try {
    for await (const chunk of source) {
      if (!out.write(chunk)) await new Promise((done) => out.once("drain", done));
    }
  } finally {
    await new Promise<void>((done, fail) => out.end((error?: Error | null) => (error ? fail(error) : done())));
  }
}

/**
 * Reads the tar's headers (see the top of the file). A compressed file's
 * uncompressed bytes are written to `plainCopy` on the way (the offsets are
 * theirs), until the scan ends or finds a rootfs.
 */
async function scanTar(file: string, plainCopy: string): Promise<TarIndex> {
  const files = new Map<string, { offset: number; size: number }>();
  let isRootfs = false;
  let compressed = false;
  const links: { name: string; target: string }[] = [];
  let position = 0; // of the uncompressed stream
  let current: { name: string; start: number } | undefined;
  let bytesBeforeChunk = 0;
  let chunkStart = 0;
  const parser = new TarParser({
    entry: (entry: TarEntry) => {
      const parts = normalizeEntryPath(entry.path);
      if (parts === null || !belongsToImageArchive(parts)) {
        isRootfs = true;
        return;
      }
      current = entry.type === "file" ? { name: parts.join("/"), start: -1 } : undefined;
      if (entry.type === "file") files.set(parts.join("/"), { offset: -1, size: 0 });
      if (entry.type === "hardlink") links.push({ name: parts.join("/"), target: entry.linkTarget });
      // docker-archive (skopeo's): <id>/layer.tar -> ../<digest>.tar, resolved inside the archive only.
      if (entry.type === "symlink") links.push({ name: parts.join("/"), target: [...parts.slice(0, -1), entry.linkTarget].join("/") });
    },
    data: (chunk: Uint8Array) => {
      if (!current) return;
      const record = files.get(current.name)!;
      // The piece is a view into the chunk being pushed: its offset there tells where it is in the file.
      if (record.offset < 0) record.offset = bytesBeforeChunk + (chunk.byteOffset - chunkStart);
      record.size += chunk.length;
    },
    endEntry: () => {
      current = undefined;
    },
  });
  const stream = decompress(createReadStream(file, { highWaterMark: READ_CHUNK }), (kind) => (compressed = kind !== "none"));
  let copy: number | undefined;
  try {
    for await (const chunk of stream) {
      if (compressed) {
        copy ??= openSync(plainCopy, "wx", 0o600);
        for (let written = 0; written < chunk.length;) written += writeSync(copy, chunk, written);
      }
      bytesBeforeChunk = position;
      chunkStart = chunk.byteOffset;
      parser.push(chunk);
      position += chunk.length;
      if (isRootfs) {
        await stream.return(undefined);
        return { files, isRootfs, compressed };
      }
      if (parser.finished) break;
    }
  } finally {
    if (copy !== undefined) closeSync(copy);
  }
  if (!parser.finished) parser.end();
  for (const [, f] of files) if (f.offset < 0) f.offset = 0; // empty files
  for (const link of links) {
    const target = normalizeEntryPath(link.target)?.join("/");
    const found = target === undefined ? undefined : files.get(target);
    if (found) files.set(link.name, found);
  }
  // Only image-archive-like names, but not an image archive's files (a rootfs of just
  // "blobs/…", or an empty tar): a rootfs after all.
  const isArchive = (files.has("oci-layout") && files.has("index.json")) || files.has("manifest.json");
  if (!isArchive) isRootfs = true;
  return { files, isRootfs, compressed };
}

/** A rootfs tarball: one layer, unpacked straight from the file. */
async function importRootfs(layout: ImageLayout, file: string, syscalls: Syscalls, options: ImportOptions, label: string): Promise<ImportResult> {
  if (options.name === undefined) throw new ImageError("a rootfs tarball needs a NAME: diyc image import FILE NAME");
  const name = parseReference(options.name).name;
  return withImagesLock(layout, syscalls, "shared", async () => {
    const layer = await unpackLayer(layout, createReadStream(file, { highWaterMark: READ_CHUNK }), { label }, syscalls);
    const mediaType = layer.compression === "gzip" ? MediaType.ociLayerGzip : layer.compression === "zstd" ? MediaType.ociLayerZstd : MediaType.ociLayer;
    const image = singleLayerImage({ diffId: layer.diffId, digest: layer.digest, size: layer.compressedSize, mediaType });
    const record = await commitImage(layout, syscalls, { ...image, source: label }, [name]);
    return { kind: "rootfs" as const, record, names: [name] };
  });
}

/** Reads blobs of an OCI layout, from a directory or byte ranges of an uncompressed tar. */
interface LayoutFiles {
  has(path: string): boolean;
  read(path: string): Uint8Array;
  stream(path: string): AsyncIterable<Uint8Array>;
}

/** A JSON document of an archive: as large as one a registry may send. */
const MAX_SMALL_FILE = MAX_DOCUMENT_BYTES;

function directoryFiles(root: string): LayoutFiles {
  const full = (path: string) => {
    const parts = normalizeEntryPath(path);
    if (parts === null) throw new ImageError(`path ${JSON.stringify(path)} leaves the layout`);
    return join(root, ...parts);
  };
  return {
    has: (path) => statSync(full(path), { throwIfNoEntry: false })?.isFile() === true,
    read: (path) => {
      const size = statSync(full(path)).size;
      if (size > MAX_SMALL_FILE) throw new ImageError(`${path} is ${size} bytes: too large for a JSON document`);
      return new Uint8Array(readFileSync(full(path)));
    },
    stream: (path) => createReadStream(full(path), { highWaterMark: READ_CHUNK }),
  };
}

function tarFiles(file: string, index: TarIndex): LayoutFiles {
  const find = (path: string) => {
    const found = index.files.get(normalizeEntryPath(path)?.join("/") ?? "");
    if (!found) throw new ImageError(`the archive has no ${path}`);
    return found;
  };
  return {
    has: (path) => index.files.has(normalizeEntryPath(path)?.join("/") ?? ""),
    read: (path) => {
      const { offset, size } = find(path);
      if (size > MAX_SMALL_FILE) throw new ImageError(`${path} is ${size} bytes: too large for a JSON document`);
      const bytes = new Uint8Array(size);
      const fd = openSync(file, "r");
      try {
        let done = 0;
        while (done < size) {
          const n = readSync(fd, bytes, done, size - done, offset + done);
          if (n === 0) throw new ImageError(`${path}: the archive ends early`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
      return bytes;
    },
    stream: (path) => {
      const { offset, size } = find(path);
      if (size === 0) return (async function* () {})();
      return createReadStream(file, { start: offset, end: offset + size - 1, highWaterMark: READ_CHUNK });
    },
  };
}

function blobPath(digest: string): string {
  return `blobs/sha256/${hexOf(digest)}`;
}

function layoutBlobSource(files: LayoutFiles): BlobSource {
  return {
    readBlob: async (d) => files.read(blobPath(d.digest)),
    streamBlob: async (d) => files.stream(blobPath(d.digest)),
  };
}

async function importLayoutDirectory(layout: ImageLayout, dir: string, syscalls: Syscalls, options: ImportOptions): Promise<ImportResult> {
  const files = directoryFiles(dir);
  if (!files.has("oci-layout") || !files.has("index.json")) {
    throw new ImageError("a directory to import must be an OCI image layout (with oci-layout and index.json)");
  }
  return importOciLayout(layout, files, syscalls, options, `oci-layout ${dir}`, "oci-layout");
}

async function importArchive(layout: ImageLayout, file: string, index: TarIndex, syscalls: Syscalls, options: ImportOptions, shown: string): Promise<ImportResult> {
  const files = tarFiles(file, index);
  if (files.has("oci-layout") && files.has("index.json")) {
    return importOciLayout(layout, files, syscalls, options, `oci-archive ${shown}`, "oci-archive");
  }
  if (files.has("manifest.json")) return importDockerArchive(layout, files, syscalls, options, `docker-archive ${shown}`);
  throw new ImageError("not an image archive: no oci-layout/index.json and no manifest.json");
}

const REF_NAME = "org.opencontainers.image.ref.name";

/** index.json -> (a nested index: the platform's manifest) -> manifest -> image. */
async function importOciLayout(
  layout: ImageLayout, files: LayoutFiles, syscalls: Syscalls, options: ImportOptions, label: string, kind: ImportKind,
): Promise<ImportResult> {
  const index = parseIndex(`${label}: index.json`, files.read("index.json"));
  if (index.manifests.length === 0) throw new ImageError(`${label}: index.json lists no images`);
  let chosen = index.manifests[0]!;
  if (index.manifests.length > 1) {
    chosen = choosePlatform(index, options.platform ?? hostPlatform()) ?? chosen;
  }
  const refName = chosen.annotations?.[REF_NAME];
  let bytes = files.read(blobPath(chosen.digest));
  checkDigest(label, chosen, bytes);
  const doc = parseJson(label, bytes) as { mediaType?: string; manifests?: unknown; layers?: unknown };
  if (isIndex(chosen.mediaType ?? doc.mediaType, doc)) {
    const nested = parseIndex(`${label}: index ${chosen.digest}`, bytes);
    const platform = options.platform ?? hostPlatform();
    const pick = choosePlatform(nested, platform);
    if (!pick) throw new ImageError(`${label}: no image for ${platform.os}/${platform.architecture}`);
    bytes = files.read(blobPath(pick.digest));
    checkDigest(label, pick, bytes);
  }
  const names = nameList(options.name, refName && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(refName) ? undefined : refName);
  const record = await materializeImage(layout, syscalls, layoutBlobSource(files), bytes, label, names, options.progress);
  return { kind, record, names };
}

/** docker save's manifest.json: [{ Config, RepoTags, Layers }], layers as uncompressed (or compressed) tars. */
async function importDockerArchive(layout: ImageLayout, files: LayoutFiles, syscalls: Syscalls, options: ImportOptions, label: string): Promise<ImportResult> {
  const entries = parseJson(`${label}: manifest.json`, files.read("manifest.json")) as { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[];
  const entry = Array.isArray(entries) ? entries[0] : undefined;
  if (!entry || typeof entry.Config !== "string" || !Array.isArray(entry.Layers)) throw new ImageError(`${label}: manifest.json has no image`);
  const config = files.read(entry.Config);
  // docker-archive has no registry manifest: one is made, with each layer's digest taken while it is unpacked.
  const layerDigests: Descriptor[] = [];
  for (const path of entry.Layers) {
    const hasher = new Bun.CryptoHasher("sha256");
    let size = 0;
    for await (const chunk of files.stream(path)) {
      hasher.update(chunk);
      size += chunk.length;
    }
    layerDigests.push({ mediaType: MediaType.ociLayer, digest: `sha256:${hasher.digest("hex")}`, size });
  }
  const paths = new Map(layerDigests.map((d, i) => [d.digest, entry.Layers![i]!]));
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2, mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
    layers: layerDigests,
  }));
  const source: BlobSource = {
    readBlob: async () => config,
    streamBlob: async (d) => files.stream(paths.get(d.digest)!),
  };
  const tags = (entry.RepoTags ?? []).filter((t) => {
    try {
      parseReference(t);
      return true;
    } catch {
      return false;
    }
  });
  const names = nameList(options.name, tags[0]);
  const record = await materializeImage(layout, syscalls, source, manifest, label, names, options.progress);
  return { kind: "docker-archive", record, names };
}

function nameList(given: string | undefined, fromArchive: string | undefined): string[] {
  if (given !== undefined) return [parseReference(given).name];
  if (fromArchive !== undefined) return [parseReference(fromArchive).name];
  return []; // no name: the image is known by its id only
}

function checkDigest(label: string, descriptor: Descriptor, bytes: Uint8Array): void {
  const actual = sha256(bytes);
  if (actual !== descriptor.digest) throw new ImageError(`${label}: blob ${descriptor.digest}: digest mismatch: got ${actual}`);
}
