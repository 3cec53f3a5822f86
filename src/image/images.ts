// The image store: images as manifests, configs and shared layers (the layout
// is in layout.ts), their names, which containers hold them, and removal.
//
// An image is committed in one order, so that a crash at any point leaves
// nothing dangling that a reader would trust: layers (each renamed into
// place whole) -> the config and manifest blobs -> the image record -> its
// names in refs.json. A record is only written once everything it names
// exists; a name only once its record does.

import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { asDiycError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import { readDirIfExists, readIfExists, readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../store/atomic";
import { ContainerLock } from "../store/lock";
import type { HostStepRecorder } from "../store/recording";
import type { Store } from "../store/store";
import { ImageError } from "./errors";
import { layerExists, readLayerRecord } from "./layers";
import { DIGEST_PATTERN, hexOf, ImageLayout, ImagesLock, withImagesLock } from "./layout";
import { parseConfig, parseManifest, type ImageConfig, type Manifest } from "./oci-image";
import { parseReference } from "./reference";
import { removeTree } from "./tree";

export { ImageError } from "./errors";

/** records/ID.json */
export interface ImageRecord {
  /** The config's digest: what `image ls` shows as IMAGE ID. */
  id: string;
  manifestDigest: string;
  /** Diff ids, bottom layer first (the config's rootfs.diff_ids). */
  layers: string[];
  /** Where it came from: "registry 127.0.0.1:5000/app:1", "tarball /x.tar", "builtin:/bin/busybox". */
  source: string;
  /** When it entered this store (ISO 8601). */
  storedAt: string;
}

/** What `image ls` and `image inspect` show. */
export interface ImageSummary {
  names: string[];
  id: string;
  /** The config's `created`, else when it was stored. */
  created: string;
  /** Bytes on disk of its layers. */
  size: number;
  /** Of which in layers no other image has. */
  unique: number;
  record: ImageRecord;
}

export function imageLayout(store: Store): ImageLayout {
  return new ImageLayout(store);
}

// ---------------------------------------------------------------------------
// Blobs, records and names

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Writes a small blob (a manifest or config) after checking it is what its digest says. */
export function writeBlob(layout: ImageLayout, digest: string, bytes: Uint8Array): void {
  const actual = sha256(bytes);
  if (actual !== digest) throw new ImageError(`blob ${digest}: digest mismatch: got ${actual}`);
  layout.ensure();
  const path = layout.blob(digest);
  try {
    if (statSync(path).size === bytes.length) return; // content-addressed: same name, same bytes
  } catch {
    // absent: write it
  }
  writeFileAtomic(path, bytes, 0o644);
}

export function readBlob(layout: ImageLayout, digest: string): Uint8Array {
  try {
    return readFileSync(layout.blob(digest));
  } catch (error) {
    throw new ImageError(`blob ${digest} is missing from the store (${asDiycError(error).message})`);
  }
}

export function readRefs(layout: ImageLayout): Record<string, string> {
  const refs = readJsonIfExists<Record<string, unknown>>(layout.refsFile) ?? {};
  return Object.fromEntries(Object.entries(refs).filter((entry): entry is [string, string] => typeof entry[1] === "string" && DIGEST_PATTERN.test(entry[1])));
}

/** Read-modify-write of refs.json under its own lock (concurrent pulls). */
export async function updateRefs(layout: ImageLayout, syscalls: Syscalls, change: (refs: Record<string, string>) => void): Promise<void> {
  await withImagesLock(layout, syscalls, "exclusive", () => {
    const refs = readRefs(layout);
    change(refs);
    writeJsonAtomic(layout.refsFile, Object.fromEntries(Object.entries(refs).sort()));
  }, layout.refsLockFile);
}

export function readRecord(layout: ImageLayout, id: string): ImageRecord | undefined {
  return readJsonIfExists<ImageRecord>(layout.record(id));
}

/**
 * Records an image whose layers are all in place, then gives it `names`.
 * The caller holds the images lock (shared), so no prune runs in between.
 */
export async function commitImage(
  layout: ImageLayout, syscalls: Syscalls,
  image: { manifest: Uint8Array; manifestDigest: string; config: Uint8Array; configDigest: string; source: string },
  names: string[],
): Promise<ImageRecord> {
  const config = parseConfig(`config ${image.configDigest}`, image.config);
  for (const diffId of config.rootfs.diff_ids) {
    if (!layerExists(layout, diffId)) throw new ImageError(`layer ${diffId} is missing from the store`);
  }
  writeBlob(layout, image.configDigest, image.config);
  writeBlob(layout, image.manifestDigest, image.manifest);
  const record: ImageRecord = {
    id: image.configDigest,
    manifestDigest: image.manifestDigest,
    layers: config.rootfs.diff_ids,
    source: image.source,
    storedAt: new Date().toISOString(),
  };
  const existing = readRecord(layout, record.id);
  if (existing === undefined) writeJsonAtomic(layout.record(record.id), record);
  await updateRefs(layout, syscalls, (refs) => {
    for (const name of names) refs[name] = record.id;
  });
  return existing ?? record;
}

/** A manifest and config for a single-layer image made here (a rootfs tarball, the built-in busybox). */
export function singleLayerImage(diff: { diffId: string; digest: string; size: number; mediaType: string }, containerConfig: object = {}): {
  manifest: Uint8Array; manifestDigest: string; config: Uint8Array; configDigest: string;
} {
  const configDoc: ImageConfig = {
    created: new Date().toISOString(),
    architecture: process.arch === "x64" ? "amd64" : process.arch,
    os: "linux",
    config: containerConfig,
    rootfs: { type: "layers", diff_ids: [diff.diffId] },
  };
  const config = new TextEncoder().encode(JSON.stringify(configDoc));
  const configDigest = sha256(config);
  const manifestDoc: Manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
    layers: [{ mediaType: diff.mediaType, digest: diff.digest, size: diff.size }],
  };
  const manifest = new TextEncoder().encode(JSON.stringify(manifestDoc));
  return { manifest, manifestDigest: sha256(manifest), config, configDigest };
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

// ---------------------------------------------------------------------------
// Lookup

/**
 * Finds an image by name ("busybox", "busybox:latest", "host:5000/app:1"),
 * by id ("sha256:HEX"), or by a unique id prefix of at least 4 hex digits
 * (what `image ls` shows). undefined when there is none.
 */
export function findImage(layout: ImageLayout, text: string): ImageRecord | undefined {
  if (DIGEST_PATTERN.test(text)) return readRecord(layout, text); // the start path's case: no refs.json read
  const refs = readRefs(layout);
  if (/^[a-f0-9]{4,64}$/.test(text) && refs[text] === undefined && refs[`${text}:latest`] === undefined) {
    const matches = listRecordIds(layout).filter((id) => hexOf(id).startsWith(text));
    if (matches.length > 1) throw new ImageError(`image id ${text} is ambiguous: it starts ${matches.length} images`);
    if (matches.length === 1) return readRecord(layout, matches[0]!);
  }
  let name: string;
  try {
    name = parseReference(text).name;
  } catch {
    return undefined;
  }
  const id = refs[name];
  return id === undefined ? undefined : readRecord(layout, id);
}

export function requireImage(layout: ImageLayout, text: string): ImageRecord {
  const record = findImage(layout, text);
  if (record === undefined) throw new ImageError(`no such image: ${text}`);
  return record;
}

function listRecordIds(layout: ImageLayout): string[] {
  return readDirIfExists(layout.recordsDir)
    .filter((file) => /^[a-f0-9]{64}\.json$/.test(file))
    .map((file) => `sha256:${file.slice(0, 64)}`);
}

export function imageConfig(layout: ImageLayout, record: ImageRecord): ImageConfig {
  return parseConfig(`config ${record.id}`, readBlob(layout, record.id));
}

export function imageManifest(layout: ImageLayout, record: ImageRecord): Manifest {
  return parseManifest(`manifest ${record.manifestDigest}`, readBlob(layout, record.manifestDigest));
}

/**
 * The image's layer directories, top layer first (overlayfs's lowerdir
 * order). A layer listed twice (images often repeat the empty layer) is
 * mounted once, at its topmost place: overlayfs refuses a directory twice
 * ("conflicting lowerdir path", ELOOP), and the result is the same, since everything the lower copy holds (files,
 * whiteouts) the upper one holds again, above whatever lies in between.
 */
export function layerRoots(layout: ImageLayout, record: ImageRecord): string[] {
  const topFirst = [...record.layers].reverse();
  return topFirst.filter((diffId, index) => topFirst.indexOf(diffId) === index).map((diffId) => layout.layerRoot(diffId));
}

// ---------------------------------------------------------------------------
// Containers' holds

/**
 * A container is being created from `image`: records the hold (under the
 * shared lock, so no rm or prune is half-way) and returns the layer
 * directories, top first. The hold stays until the container is gone.
 */
export function holdImageForContainer(
  store: Store, image: string, container: string, syscalls: Syscalls, recorder?: HostStepRecorder,
): { record: ImageRecord; lowerdirs: string[] } {
  const layout = imageLayout(store);
  // A recorded run (runtime/prepared.ts): under the shared lock, the image's record and layers
  // must be these very files (a removed and pulled again layer is another inode), then the hold.
  recorder?.add("shared-lock", layout.lockFile);
  const lock = ImagesLock.acquire(layout, syscalls, "shared");
  try {
    const record = requireImage(layout, image);
    recorder?.sameFile(layout.record(record.id));
    for (const diffId of record.layers) {
      if (!layerExists(layout, diffId)) throw new ImageError(`image ${image}: layer ${diffId} is missing from the store`);
      recorder?.sameFile(join(layout.layerDir(diffId), "layer.json"));
    }
    // Written in place: its readers (image rm, prune) hold the exclusive lock, so none sees it half-written.
    const hold = `${record.id}\n`;
    recorder?.add("file", layout.hold(container), "600", hold);
    writeFileSync(layout.hold(container), hold, { mode: 0o600 });
    return { record, lowerdirs: layerRoots(layout, record) };
  } finally {
    recorder?.add("unlock", layout.lockFile);
    lock.release();
  }
}

/**
 * Which image ids containers hold, and by whom. A hold counts while its
 * container's directory exists or its lock is taken (it is being created
 * right now); otherwise the container is gone and the hold is stale.
 */
export function heldImages(store: Store, syscalls: Syscalls): Map<string, string[]> {
  const layout = imageLayout(store);
  const held = new Map<string, string[]>();
  for (const container of readDirIfExists(layout.holdsDir)) {
    if (container.includes(".tmp-")) continue;
    const id = readIfExists(layout.hold(container))?.trim();
    if (id === undefined || !DIGEST_PATTERN.test(id)) continue;
    if (!containerIsAround(store, container, syscalls)) continue;
    held.set(id, [...(held.get(id) ?? []), container].sort());
  }
  return held;
}

function containerIsAround(store: Store, container: string, syscalls: Syscalls): boolean {
  try {
    if (statSync(store.containerDir(container)).isDirectory()) return true;
  } catch {
    // gone, or never made: look at its lock
  }
  // No lock file: nobody ever took it, so nobody is creating it (and none is made here).
  if (!existsSync(store.containerLock(container))) return false;
  const lock = ContainerLock.tryAcquire(store, container, syscalls);
  if (lock === undefined) return true; // someone is creating it right now
  lock.release();
  return false;
}

/** Removes the holds of containers that are gone. The caller holds the exclusive lock. */
function dropStaleHolds(store: Store, syscalls: Syscalls): void {
  const layout = imageLayout(store);
  for (const container of readDirIfExists(layout.holdsDir)) {
    if (!containerIsAround(store, container, syscalls)) rmSync(layout.hold(container), { force: true });
  }
}

// ---------------------------------------------------------------------------
// Listing

export function listImages(store: Store): ImageSummary[] {
  const layout = imageLayout(store);
  const refs = readRefs(layout);
  const namesById = new Map<string, string[]>();
  for (const [name, id] of Object.entries(refs)) namesById.set(id, [...(namesById.get(id) ?? []), name]);
  const records = listRecordIds(layout).map((id) => readRecord(layout, id)).filter((r): r is ImageRecord => r !== undefined);
  const users = new Map<string, number>();
  for (const record of records) for (const diffId of new Set(record.layers)) users.set(diffId, (users.get(diffId) ?? 0) + 1);
  const layerSize = (diffId: string) => {
    try {
      return readLayerRecord(layout, diffId).size;
    } catch {
      return 0; // a layer removed under us: counted as nothing
    }
  };
  return records
    .map((record) => {
      const layers = [...new Set(record.layers)];
      let created = record.storedAt;
      try {
        created = imageConfig(layout, record).created ?? created;
      } catch {
        // a damaged config still lists, with the time it was stored
      }
      return {
        names: (namesById.get(record.id) ?? []).sort(),
        id: record.id,
        created,
        size: layers.reduce((sum, d) => sum + layerSize(d), 0),
        unique: layers.filter((d) => users.get(d) === 1).reduce((sum, d) => sum + layerSize(d), 0),
        record,
      };
    })
    .sort((a, b) => (a.names[0] ?? "~").localeCompare(b.names[0] ?? "~") || a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------
// Removal and pruning

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/**
 * Removes an image by name or id. By name: the name goes; the image itself
 * goes when no other name points at it. Refused while a container holds it,
 * unless `force` (then only names go, and the layers stay until the last
 * container is removed and a prune runs). Unreferenced layers are deleted.
 */
export async function removeImage(store: Store, text: string, syscalls: Syscalls, force: boolean): Promise<RemoveResult> {
  const layout = imageLayout(store);
  return withImagesLock(layout, syscalls, "exclusive", async () => {
    const record = requireImage(layout, text);
    const refs = readRefs(layout);
    const names = Object.entries(refs).filter(([, id]) => id === record.id).map(([name]) => name);
    // By name, only that name goes; by id, every name does.
    const byName = refsName(text, refs);
    const users = heldImages(store, syscalls).get(record.id) ?? [];
    const dropNames = byName !== undefined ? [byName] : names;
    const keepsOtherNames = names.length > dropNames.length;
    if (users.length > 0 && !force && !keepsOtherNames) {
      const plural = users.length === 1 ? "container" : "containers";
      throw new ImageError(`image ${text} is used by ${plural} ${users.join(", ")}: remove ${users.length === 1 ? "it" : "them"} first (or use -f)`);
    }
    await updateRefs(layout, syscalls, (current) => {
      for (const name of dropNames) delete current[name];
    });
    const deleted: string[] = [];
    if (!keepsOtherNames && users.length === 0) {
      rmSync(layout.record(record.id), { force: true });
      deleted.push(record.id);
      collectGarbage(store);
    }
    return { untagged: dropNames, deleted };
  });
}

function refsName(text: string, refs: Record<string, string>): string | undefined {
  try {
    const name = parseReference(text).name;
    return refs[name] === undefined ? undefined : name;
  } catch {
    return undefined;
  }
}

export interface PruneResult {
  images: string[];
  layers: number;
  bytes: number;
}

/** Removes images without a name that no container holds, then every layer and blob nothing refers to. */
export async function pruneImages(store: Store, syscalls: Syscalls): Promise<PruneResult> {
  const layout = imageLayout(store);
  return withImagesLock(layout, syscalls, "exclusive", () => {
    dropStaleHolds(store, syscalls);
    const named = new Set(Object.values(readRefs(layout)));
    const held = heldImages(store, syscalls);
    const images: string[] = [];
    for (const id of listRecordIds(layout)) {
      if (named.has(id) || held.has(id)) continue;
      rmSync(layout.record(id), { force: true });
      images.push(id);
    }
    return { images, ...collectGarbage(store) };
  });
}

/**
 * Deletes layers and blobs that no image record refers to, and staging
 * directories left by killed processes. The caller holds the exclusive lock,
 * so nothing is being unpacked or committed.
 */
function collectGarbage(store: Store): { layers: number; bytes: number } {
  const layout = imageLayout(store);
  const liveLayers = new Set<string>();
  const liveBlobs = new Set<string>();
  for (const id of listRecordIds(layout)) {
    const record = readRecord(layout, id);
    if (!record) continue;
    record.layers.forEach((d) => liveLayers.add(hexOf(d)));
    liveBlobs.add(hexOf(record.id));
    liveBlobs.add(hexOf(record.manifestDigest));
  }
  let layers = 0;
  let bytes = 0;
  for (const hex of readDirIfExists(layout.layersDir)) {
    if (liveLayers.has(hex)) continue;
    try {
      bytes += readLayerRecord(layout, `sha256:${hex}`).size;
    } catch {
      // an incomplete layer: counted as nothing
    }
    // Renamed away first: a half-deleted layer is never visible under its digest.
    const doomed = join(layout.tmpDir, `remove-${hex}-${process.pid}`);
    try {
      renameSync(join(layout.layersDir, hex), doomed);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") continue;
      throw error;
    }
    removeTree(doomed, layout.store.rootless);
    layers++;
  }
  for (const hex of readDirIfExists(layout.blobsDir)) {
    if (hex.includes(".tmp-") || !liveBlobs.has(hex)) rmSync(join(layout.blobsDir, hex), { force: true });
  }
  for (const entry of readDirIfExists(layout.tmpDir)) removeTree(join(layout.tmpDir, entry), layout.store.rootless);
  // Short layer names (fitLowerdirs) whose layer is gone.
  const linksDir = join(layout.dir, "l");
  for (const link of readDirIfExists(linksDir)) {
    if (!existsSync(join(linksDir, link))) rmSync(join(linksDir, link), { force: true });
  }
  return { layers, bytes };
}

// ---------------------------------------------------------------------------
// The overlay's lowerdir option

/**
 * mount(2) passes overlayfs its options in one page: lowerdir, upperdir and
 * workdir together must fit in 4095 bytes. Full layer paths
 * (ROOT/images/layers/<64 hex>/root) fit about 45 layers under the default
 * root. Past that, each layer is given a short name: a symlink
 * ROOT/images/l/<12 hex> -> ../layers/<hex>/root (overlayfs resolves the
 * link at mount time, as containers/storage does), which fits about 110.
 * Past that the run is refused with the numbers: the layers would have to be
 * flattened, which diyc does not do.
 */
export const MOUNT_OPTIONS_LIMIT = 4095;

export function fitLowerdirs(store: Store, lowerdirs: string[], otherOptionsLength: number): string[] {
  const length = (dirs: string[]) => "lowerdir=".length + dirs.join(":").length + otherOptionsLength;
  if (length(lowerdirs) <= MOUNT_OPTIONS_LIMIT) return lowerdirs;
  const layout = imageLayout(store);
  const linksDir = join(layout.dir, "l");
  mkdirSync(linksDir, { recursive: true, mode: 0o700 });
  const short = lowerdirs.map((dir) => {
    const hex = basename(dirname(dir));
    const link = join(linksDir, hex.slice(0, 12));
    const target = `../layers/${hex}/root`;
    try {
      symlinkSync(target, link);
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw asDiycError(error, link);
      if (readlinkSync(link) !== target) throw new ImageError(`layer short name ${link} already points elsewhere (12-hex-digit collision)`);
    }
    return link;
  });
  if (length(short) > MOUNT_OPTIONS_LIMIT) {
    throw new ImageError(
      `the image has ${lowerdirs.length} layers: overlayfs's options would be ${length(short)} bytes even with short layer names, ` +
      `more than the kernel's ${MOUNT_OPTIONS_LIMIT}; a store root with a shorter path (--root) fits more`,
    );
  }
  return short;
}
