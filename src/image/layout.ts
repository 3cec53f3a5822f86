// Where images live in the store, and the one lock that guards them.
//
//   ROOT/images/
//     blobs/sha256/HEX          manifests and configs (JSON), named by their sha256
//     layers/HEX/root/          a layer, unpacked once (HEX: its diff id, the sha256
//                               of the uncompressed tar): an overlay lowerdir
//     layers/HEX/layer.json     its diff id, size on disk, entry count
//     records/HEX.json          an image (HEX: its id, the config's sha256): manifest
//                               and config digests, layers bottom first, source
//     refs.json                 names ("repo:tag") -> image ids
//     holds/CONTAINER           the image id a container was created from: a
//                               reference record, so image rm and prune never
//                               need to read the runtime's own files
//     tmp/                      staging: layers being unpacked, archives spooled
//     l/SHORT                   short names of layers (symlinks), for long lowerdir lists
//     lock                      flock(2): shared by pulls, imports and container
//                               creation; exclusive for rm and prune
//
// Everything appears by rename(2): a layer directory from tmp/, a blob or a
// record from a .tmp-PID file beside it (store/atomic.ts), so each is whole or
// absent, even after a SIGKILL. What a killed process left is removed by the
// next prune (and never read).

import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LOCK_EX, LOCK_SH, LOCK_UN, type Syscalls } from "../linux/syscalls";
import type { Store } from "../store/store";
import { ImageError } from "./errors";
import { DIGEST_PATTERN } from "./oci-image";
import { removeTree } from "./tree";

export { DIGEST_PATTERN };

export class ImageLayout {
  readonly dir: string;
  constructor(readonly store: Store) {
    this.dir = store.imagesDir;
  }
  get blobsDir(): string {
    return join(this.dir, "blobs", "sha256");
  }
  get layersDir(): string {
    return join(this.dir, "layers");
  }
  get recordsDir(): string {
    return join(this.dir, "records");
  }
  get holdsDir(): string {
    return join(this.dir, "holds");
  }
  get tmpDir(): string {
    return join(this.dir, "tmp");
  }
  get refsFile(): string {
    return join(this.dir, "refs.json");
  }
  get lockFile(): string {
    return join(this.dir, "lock");
  }
  /** Serializes read-modify-write of refs.json (two pulls may hold the shared lock at once). */
  get refsLockFile(): string {
    return join(this.dir, "refs.lock");
  }
  blob(digest: string): string {
    return join(this.blobsDir, hexOf(digest));
  }
  layerDir(diffId: string): string {
    return join(this.layersDir, hexOf(diffId));
  }
  layerRoot(diffId: string): string {
    return join(this.layersDir, hexOf(diffId), "root");
  }
  record(id: string): string {
    return join(this.recordsDir, `${hexOf(id)}.json`);
  }
  hold(container: string): string {
    return join(this.holdsDir, container);
  }

  ensure(): void {
    this.store.ensure();
    for (const dir of [this.blobsDir, this.layersDir, this.recordsDir, this.holdsDir, this.tmpDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
  }
}

/** "sha256:HEX" -> HEX, refusing anything else (digests become file names). */
export function hexOf(digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw new ImageError(`invalid digest ${JSON.stringify(digest)}: expected sha256:<64 hex digits>`);
  return digest.slice("sha256:".length);
}

/** The images lock: shared for work that adds (pull, import, create), exclusive for work that deletes. */
export class ImagesLock {
  private constructor(private readonly syscalls: Syscalls, private fd: number, private readonly path: string) {}

  static acquire(layout: ImageLayout, syscalls: Syscalls, mode: "shared" | "exclusive", path = layout.lockFile): ImagesLock {
    layout.ensure();
    const fd = openSync(path, "a", 0o600);
    const operation = mode === "shared" ? LOCK_SH : LOCK_EX;
    try {
      // Someone pulling or removing makes us wait for them (a pull may take a while).
      syscalls.flock(fd, operation, path);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new ImagesLock(syscalls, fd, path);
  }

  release(): void {
    if (this.fd < 0) return;
    this.syscalls.flock(this.fd, LOCK_UN, this.path);
    closeSync(this.fd);
    this.fd = -1;
  }
}

export async function withImagesLock<T>(
  layout: ImageLayout, syscalls: Syscalls, mode: "shared" | "exclusive", fn: () => Promise<T> | T, path = layout.lockFile,
): Promise<T> {
  const lock = ImagesLock.acquire(layout, syscalls, mode, path);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** A private staging directory under tmp/, named KIND-PID-XXXXXX (sweepStaleStaging reads the pid). */
export function stagingDir(layout: ImageLayout, kind: string): string {
  layout.ensure();
  return mkdtempSync(join(layout.tmpDir, `${kind}-${process.pid}-`));
}

/** Removes the staging directories of processes that are gone (a pull killed with SIGKILL); a live one's stay. */
export function sweepStaleStaging(layout: ImageLayout): void {
  for (const entry of readdirSync(layout.tmpDir)) {
    const pid = Number(/^[a-z]+-(\d+)-/.exec(entry)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    removeTree(join(layout.tmpDir, entry), layout.store.rootless); // a layer's staging may hold 0555 directories already
  }
}
