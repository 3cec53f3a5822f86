// Safe extraction of tar entries into an image's rootfs directory.
//
// The rule: nothing is ever written outside `root`, whatever the archive
// holds. Each attack and the function that stops it:
//
//   "../../etc/x", "a/../../x"      normalizeEntryPath: `..` that climbs above
//                                   the root is refused; a leading "/" is
//                                   dropped, so absolute names stay inside.
//   symlink "d" -> "/" or "../..",  ensureParentDirectories: every parent
//   then a file "d/etc/x"           component is lstat'ed (once: see
//                                   Extractor.knownDirectories); a symlink
//                                   there is refused, whatever it points to.
//   hardlink -> "/etc/passwd",      linkHardlink: the target is normalized like
//   "../outside", "symlink/x"       a name and must be an existing non-directory
//                                   reached without symlinks.
//   symlink "f" -> "/etc/shadow",   clearDestination: an existing entry is
//   then a file "f"                 unlinked (the link itself) before creating;
//                                   files are opened O_CREAT|O_EXCL|O_NOFOLLOW.
//   dir "d" (mode 0777), then a     applyDirectoryMetadata re-checks each
//   symlink "d" -> "/etc"           directory with lstat before chmod/chown.
//
// Why lstat checks are enough here (no openat2/RESOLVE_BENEATH): the root is
// a fresh directory inside the store's private images/.import-*/ (mode 0700),
// so nothing but this extraction writes there while it runs.
//
// Symlinks are stored exactly as in the archive, absolute targets included:
// they are only resolved later, inside the container's own root.

import { makeDevice } from "../linux/devices";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  ftruncateSync,
  type Stats,
} from "node:fs";
import { join } from "node:path";
import type { Syscalls } from "../linux/syscalls";
import { UnsafeEntryError } from "./errors";
import { lsetxattr } from "../linux/xattr";
import type { TarEntry, TarSink } from "./tar";

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export interface ExtractOptions {
  /**
   * Give files the archive's uid/gid. Only root can give files away; like
   * GNU tar, an unprivileged extraction keeps the caller's ownership.
   */
  preserveOwnership: boolean;
  /**
   * Rootless diyc (linux/rootless.ts): the user writes the files (owned by
   * the user: root in the container), and every entry owned by another id,
   * or with security.* xattrs (file capabilities, which chown would clear
   * and only a root may set), is recorded here, by path, for one pass as root
   * of a user namespace afterwards (image/ownership.ts). Opaque directories
   * get user.overlay.opaque, which an overlay mounted with userxattr reads;
   * device nodes are skipped: no one may make them in a user namespace.
   */
  deferred?: Map<string, DeferredOwnership>;
}

/** What the rootless pass applies to one path: chown, then chmod (chown clears setuid), then xattrs. */
export interface DeferredOwnership {
  uid: number;
  gid: number;
  /** Set again after the chown; absent for a symlink. */
  mode?: number;
  /** Name and base64 value. */
  xattrs?: [string, string][];
}

/** Metadata to apply to a directory after everything inside it is written. */
interface PendingDirectory {
  parts: string[];
  entry: TarEntry;
}

/** The file being written: its contents arrive in pieces (TarSink.data). */
interface OpenFile {
  fd: number;
  entry: TarEntry;
  path: string;
  position: number;
  /** The last piece was skipped as a hole: the file must be extended to its size at the end. */
  endsInHole: boolean;
}

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";
const AUFS_META_PREFIX = ".wh..wh.";
const OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque";
/** The same mark where overlayfs is mounted with userxattr (in a user namespace: rootless). */
const USER_OVERLAY_OPAQUE_XATTR = "user.overlay.opaque";
/** Writes of all-zero pieces are skipped (a hole): a layer's sparse files stay sparse. */
const ZEROES = new Uint8Array(1 << 20);

/**
 * Unpacks a tar stream into the existing directory `root`, entry by entry
 * as the parser finds them (a TarSink). Throws UnsafeEntryError for a
 * hostile entry. Image layers' whiteouts become overlayfs's:
 *   DIR/.wh.NAME       -> DIR/NAME as a character device 0:0 (a deleted file)
 *   DIR/.wh..wh..opq   -> DIR gets trusted.overlay.opaque=y (lower layers' DIR hidden)
 * Call finish() once the parser has ended, to set directories' metadata.
 */
export class Extractor implements TarSink {
  private readonly pendingDirectories = new Map<string, PendingDirectory>();
  /**
   * Directories (relative paths) this extraction made or lstat'ed as real
   * directories: their parents need no lstat for every entry below them.
   * Only this extraction writes in its staging directory, so an entry stays
   * known until an entry of this archive replaces it (forget()).
   */
  private readonly knownDirectories = new Set<string>();
  private file: OpenFile | undefined;
  /** Entries written, for the layer's record. */
  entries = 0;

  constructor(
    private readonly root: string,
    private readonly syscalls: Syscalls,
    private readonly options: ExtractOptions,
  ) {}

  entry(entry: TarEntry): void {
    if (entry.path.includes("\0") || entry.linkTarget.includes("\0")) {
      throw new UnsafeEntryError(entry.path, "has a NUL byte in its name");
    }
    const parts = normalizeEntryPath(entry.path);
    if (parts === null) throw new UnsafeEntryError(entry.path, "escapes the image directory");
    this.entries++;
    if (parts.length === 0) {
      if (entry.type !== "dir") throw new UnsafeEntryError(entry.path, "names the image root but is not a directory");
      this.pendingDirectories.set("", { parts, entry });
      return;
    }
    const base = parts[parts.length - 1]!;
    // Under ".wh..wh.plnk/" and the like: aufs's own bookkeeping, not files of the image.
    if (parts.slice(0, -1).some((part) => part.startsWith(AUFS_META_PREFIX))) return;
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(entry, parts, base);
    const path = ensureParentDirectories(this.root, parts, entry.path, this.knownDirectories);
    const key = parts.join("/");
    if (entry.type !== "dir") this.forget(key);
    clearDestination(path, entry);
    if (entry.type === "dir") this.pendingDirectories.set(key, { parts, entry });
    if (entry.type === "file") {
      this.file = { fd: openNewFile(path), entry, path, position: 0, endsInHole: false };
      return;
    }
    writeEntry(entry, path, this.root, this.syscalls, this.options);
  }

  data(chunk: Uint8Array): void {
    const file = this.file;
    if (file === undefined) return; // a whiteout's contents (if any) mean nothing
    const isHole = chunk.length <= ZEROES.length && Buffer.compare(chunk, ZEROES.subarray(0, chunk.length)) === 0;
    file.endsInHole = isHole;
    if (!isHole) {
      let written = 0;
      while (written < chunk.length) written += writeSync(file.fd, chunk, written, chunk.length - written, file.position + written);
    }
    file.position += chunk.length;
  }

  endEntry(entry: TarEntry): void {
    const file = this.file;
    if (entry.type !== "file" || file === undefined) return;
    this.file = undefined;
    try {
      if (file.endsInHole) ftruncateSync(file.fd, file.position); // a file ending in a hole
      if (this.options.preserveOwnership) fchownSync(file.fd, entry.uid, entry.gid);
      else deferOwnership(this.options, file.path, entry, true);
      // chmod after chown: chown clears setuid and setgid.
      fchmodSync(file.fd, entry.mode);
      futimesSync(file.fd, entry.mtime, entry.mtime);
    } finally {
      closeSync(file.fd);
    }
    this.setXattrs(file.path, entry);
  }

  /** Directory metadata, deepest first, once the parser has ended (abort() closes a file a failed parse left open). */
  finish(): void {
    applyDirectoryMetadata([...this.pendingDirectories.values()], this.root, this.options);
  }

  /** After a failure: no descriptor is left open. */
  abort(): void {
    if (this.file) closeSync(this.file.fd);
    this.file = undefined;
  }

  private whiteout(entry: TarEntry, parts: string[], base: string): void {
    if (base === OPAQUE_MARKER) {
      // The directory itself must exist in this layer for overlayfs to see the mark.
      const dirParts = parts.slice(0, -1);
      if (dirParts.length === 0) return; // an opaque root means nothing to overlayfs
      ensureParentDirectories(this.root, [...dirParts, OPAQUE_MARKER], entry.path, this.knownDirectories);
      lsetxattr(join(this.root, ...dirParts), this.options.deferred ? USER_OVERLAY_OPAQUE_XATTR : OVERLAY_OPAQUE_XATTR, OPAQUE_VALUE);
      return;
    }
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    // ".wh..wh.plnk" and the like are aufs's own bookkeeping, not deletions.
    if (hidden.startsWith(WHITEOUT_PREFIX) || hidden === "" || hidden === "." || hidden === "..") return;
    const targetParts = [...parts.slice(0, -1), hidden];
    const path = ensureParentDirectories(this.root, targetParts, entry.path, this.knownDirectories);
    this.forget(targetParts.join("/"));
    clearDestination(path, { ...entry, type: "char" });
    this.syscalls.mknod(path, S_IFCHR, makeDevice(0, 0));
  }

  /** `key` is about to become something else than a directory: it and everything known below it are forgotten. */
  private forget(key: string): void {
    if (!this.knownDirectories.delete(key)) return; // not a known directory: nothing below it is known either
    const prefix = `${key}/`;
    for (const known of this.knownDirectories) if (known.startsWith(prefix)) this.knownDirectories.delete(known);
  }

  private setXattrs(path: string, entry: TarEntry): void {
    for (const [name, value] of Object.entries(entry.xattrs ?? {})) {
      // A layer may not forge overlayfs's own marks (whiteouts and opaque dirs come from .wh. names).
      if (name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.")) continue;
      const deferred = this.options.deferred;
      if (deferred && name.startsWith("trusted.")) continue; // the host root's alone, in any user namespace
      if (deferred && name.startsWith("security.")) {
        const record = deferred.get(path) ?? { uid: entry.uid, gid: entry.gid, mode: entry.mode };
        deferred.set(path, { ...record, xattrs: [...(record.xattrs ?? []), [name, Buffer.from(value).toString("base64")]] });
        continue;
      }
      lsetxattr(path, name, value);
    }
  }
}

const OPAQUE_VALUE = new TextEncoder().encode("y");

/**
 * Splits a name into components relative to the image root, or returns null
 * when it climbs above the root. A leading "/" is dropped (absolute names are
 * relative to the image root, as GNU tar does); "." and empty components
 * vanish; ".." removes the previous component. Purely textual: the
 * components are checked for symlinks as they are walked.
 */
export function normalizeEntryPath(name: string): string[] | null {
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Makes sure every parent of `parts` is a real directory under `root`,
 * creating missing ones, and returns the entry's full path. A parent that is
 * a symlink is refused, wherever it points: following it is how an archive
 * writes outside the image.
 */
export function ensureParentDirectories(root: string, parts: readonly string[], entryPath: string, knownDirectories?: Set<string>): string {
  let path = root;
  let key = "";
  for (const [index, part] of parts.slice(0, -1).entries()) {
    path = join(path, part);
    key = index === 0 ? part : `${key}/${part}`;
    if (knownDirectories?.has(key)) continue;
    const stats = lstatOrUndefined(path);
    const shown = parts.slice(0, index + 1).join("/");
    if (stats === undefined) {
      // Mode 0755 until the directory's own entry (if any) sets it at the end.
      mkdirSync(path, 0o755);
    } else if (stats.isSymbolicLink()) {
      throw new UnsafeEntryError(entryPath, `would be written through the symlink "${shown}"`);
    } else if (!stats.isDirectory()) {
      throw new UnsafeEntryError(entryPath, `has a parent "${shown}" that is not a directory`);
    }
    knownDirectories?.add(key);
  }
  return join(path, parts[parts.length - 1]!);
}

/**
 * Removes whatever already sits at `path`, so the new entry replaces it. A
 * symlink is unlinked itself, never written through. A directory stays when
 * the entry is a directory too (tar archives often list one twice).
 */
export function clearDestination(path: string, entry: TarEntry): void {
  const stats = lstatOrUndefined(path);
  if (stats === undefined) return;
  if (stats.isDirectory()) {
    // rmSync never follows symlinks found inside the tree it removes.
    if (entry.type !== "dir") rmSync(path, { recursive: true });
    return;
  }
  unlinkSync(path);
}

function writeEntry(entry: TarEntry, path: string, root: string, syscalls: Syscalls, options: ExtractOptions): void {
  switch (entry.type) {
    case "dir":
      if (lstatOrUndefined(path) === undefined) mkdirSync(path, 0o700);
      return; // owner, mode and mtime come at the end: see applyDirectoryMetadata
    case "file":
      return; // Extractor.entry opens it; its data and metadata follow
    case "symlink":
      symlinkSync(entry.linkTarget, path);
      if (options.preserveOwnership) lchownSync(path, entry.uid, entry.gid);
      else deferOwnership(options, path, entry, false);
      lutimesSync(path, entry.mtime, entry.mtime);
      return;
    case "hardlink":
      return linkHardlink(entry, path, root);
    case "char":
    case "block":
    case "fifo":
      return makeNode(entry, path, syscalls, options);
  }
}

/** O_EXCL|O_NOFOLLOW: the file is new, never something a link points to. Metadata via the fd at its end. */
function openNewFile(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

/**
 * A hardlink's target is a name inside the image: normalized like an entry
 * name, reached without symlinks, and already extracted. link(2) does not
 * follow a final symlink, so linking to a symlink links the symlink itself.
 */
export function linkHardlink(entry: TarEntry, path: string, root: string): void {
  const shownTarget = JSON.stringify(entry.linkTarget);
  const targetParts = normalizeEntryPath(entry.linkTarget);
  if (targetParts === null) throw new UnsafeEntryError(entry.path, `is a hardlink to ${shownTarget}, outside the image directory`);
  if (targetParts.length === 0) throw new UnsafeEntryError(entry.path, "is a hardlink to the image root");
  let target = root;
  for (const [index, part] of targetParts.entries()) {
    target = join(target, part);
    const stats = lstatOrUndefined(target);
    const isLast = index === targetParts.length - 1;
    if (stats === undefined || (!isLast && !stats.isDirectory() && !stats.isSymbolicLink())) {
      throw new UnsafeEntryError(entry.path, `is a hardlink to ${shownTarget}, which is not in the image`);
    }
    if (!isLast && stats.isSymbolicLink()) {
      const shown = targetParts.slice(0, index + 1).join("/");
      throw new UnsafeEntryError(entry.path, `is a hardlink to ${shownTarget}, through the symlink "${shown}"`);
    }
    if (isLast && stats.isDirectory()) throw new UnsafeEntryError(entry.path, `is a hardlink to the directory ${shownTarget}`);
  }
  linkSync(target, path);
}

/**
 * Rootless: an entry another id owns is recorded for the pass in a user
 * namespace (the user's own files are already root's inside).
 */
function deferOwnership(options: ExtractOptions, path: string, entry: TarEntry, hasMode: boolean): void {
  if (!options.deferred) return;
  // A path an earlier entry wrote is this entry's now: its record goes too.
  if (entry.uid === 0 && entry.gid === 0) {
    options.deferred.delete(path);
    return;
  }
  options.deferred.set(path, { uid: entry.uid, gid: entry.gid, ...(hasMode ? { mode: entry.mode } : {}) });
}

/** Devices and fifos. mknod applies the umask, so the mode is set again after chown. */
function makeNode(entry: TarEntry, path: string, syscalls: Syscalls, options: ExtractOptions): void {
  if (options.deferred && entry.type !== "fifo") return; // devices: see ExtractOptions.deferred
  const typeBits = entry.type === "char" ? S_IFCHR : entry.type === "block" ? S_IFBLK : S_IFIFO;
  syscalls.mknod(path, typeBits | entry.mode, makeDevice(entry.devMajor, entry.devMinor));
  if (options.preserveOwnership) lchownSync(path, entry.uid, entry.gid);
  else deferOwnership(options, path, entry, true);
  // chmod follows symlinks, but `path` is the node just created: not a link.
  chmodSync(path, entry.mode);
  lutimesSync(path, entry.mtime, entry.mtime);
}


/**
 * Directory owner, mode and mtime, deepest first and only now: a read-only
 * directory would otherwise block the entries inside it, and each entry
 * written would bump its parent's mtime. A later entry may have replaced a
 * directory with a symlink, so each path is checked again with lstat and
 * skipped unless it is still a real directory reached without symlinks.
 */
function applyDirectoryMetadata(pending: PendingDirectory[], root: string, options: ExtractOptions): void {
  pending.sort((a, b) => b.parts.length - a.parts.length);
  for (const { parts, entry } of pending) {
    if (!isRealDirectory(root, parts)) continue;
    const path = join(root, ...parts);
    if (options.preserveOwnership) lchownSync(path, entry.uid, entry.gid);
    else deferOwnership(options, path, entry, true);
    chmodSync(path, entry.mode);
    lutimesSync(path, entry.mtime, entry.mtime);
  }
}

function isRealDirectory(root: string, parts: readonly string[]): boolean {
  let path = root;
  for (const part of parts) {
    path = join(path, part);
    const stats = lstatOrUndefined(path);
    if (stats === undefined || !stats.isDirectory()) return false; // isDirectory is false for symlinks
  }
  return true;
}
