// The image store: import, list, remove, and the built-in busybox image.
//
// An image is a directory images/NAME/ holding rootfs/ (the overlay's
// read-only lowerdir) and image.json. It appears all at once or not at all:
// it is built in images/.import-<random>/ and renamed into place when whole,
// and removed by renaming it away first. rename(2) of a directory onto an
// existing non-empty one fails, so of two imports of one name exactly one wins.

import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, posix, resolve } from "node:path";
import { asDiycError, DiycError, SyscallError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import { writeJsonAtomic } from "../store/atomic";
import type { Store } from "../store/store";
import { validateName } from "../spec/names";
import { ImageError } from "./errors";
import { extractEntries, normalizeEntryPath } from "./extract";
import { parseTar } from "./tar";

export { ImageError } from "./errors";

/** What image.json holds, plus the name. */
export interface ImageInfo {
  name: string;
  /** Where it came from: the tarball's absolute path, or "builtin:busybox". */
  source: string;
  /** ISO 8601; null when image.json is missing or unreadable. */
  created: string | null;
  /** Bytes on disk under rootfs/ (hardlinked files counted once). */
  size: number;
  /** Entries under rootfs/, directories included. */
  files: number;
}

export const DEFAULT_BUSYBOX_PATH = "/bin/busybox";

function imageJsonPath(store: Store, name: string): string {
  return join(store.imageDir(name), "image.json");
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** True when images/NAME/rootfs is a directory. */
export function imageExists(store: Store, name: string): boolean {
  try {
    return lstatSync(store.imageRootfs(name)).isDirectory();
  } catch {
    return false; // absent (or unreadable): not an image we can use
  }
}

/** The rootfs of an image, for the runtime's overlay lowerdir; ImageError if there is none. */
export function requireImageRootfs(store: Store, name: string): string {
  validateName("image", name);
  if (!imageExists(store, name)) throw new ImageError(`no such image: ${name}`);
  return store.imageRootfs(name);
}

/** Imports the tarball `file` (plain or gzip) as image `name`. All or nothing. */
export function importImage(store: Store, file: string, name: string, syscalls: Syscalls): ImageInfo {
  validateName("image", name);
  const source = resolve(file);
  return withContext(`image import ${file}`, () => {
    let archive: Uint8Array;
    try {
      archive = readFileSync(source);
    } catch (error) {
      throw asDiycError(error, source);
    }
    const entries = parseTar(archive);
    // Only root can give files away; an unprivileged import keeps its own ids.
    const preserveOwnership = process.geteuid?.() === 0;
    return stageImage(store, name, source, (rootfs) => extractEntries(entries, rootfs, syscalls, { preserveOwnership }));
  });
}

/** Runs `action`, turning any failure into one line that starts with `context`. */
function withContext<T>(context: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    const diycError = asDiycError(error);
    throw new ImageError(`${context}: ${diycError.message}`, { cause: error });
  }
}

/**
 * Builds an image in a private staging directory, then renames it into
 * place. Any failure, including losing a race for the name, removes the
 * staging directory.
 */
function stageImage(store: Store, name: string, source: string, fill: (rootfs: string) => void): ImageInfo {
  store.ensure();
  if (imageExists(store, name)) throw new ImageError(`image ${name} already exists`);
  // mkdtemp: a random, mode 0700 directory that no one else writes into.
  const staging = mkdtempSync(join(store.imagesDir, ".import-"));
  try {
    const rootfs = join(staging, "rootfs");
    mkdirSync(rootfs, 0o755);
    fill(rootfs);
    const info: ImageInfo = { name, source, created: new Date().toISOString(), ...measureTree(rootfs) };
    writeJsonAtomic(join(staging, "image.json"), info);
    renameIntoPlace(staging, store.imageDir(name), name);
    return info;
  } catch (error) {
    removeTree(staging);
    throw error;
  }
}

function renameIntoPlace(staging: string, destination: string, name: string): void {
  try {
    renameSync(staging, destination);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOTEMPTY" || code === "EEXIST") throw new ImageError(`image ${name} already exists`);
    throw error;
  }
}

/** Size on disk and entry count, without following symlinks. */
function measureTree(root: string): { size: number; files: number } {
  const seenInodes = new Set<string>();
  let size = 0;
  let files = 0;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop()!;
    const stats = lstatSync(path);
    if (path !== root) files++;
    const inode = `${stats.dev}:${stats.ino}`;
    if (!seenInodes.has(inode)) {
      seenInodes.add(inode);
      size += stats.blocks * 512;
    }
    if (stats.isDirectory()) for (const child of readdirSync(path)) pending.push(join(path, child));
  }
  return { size, files };
}

/**
 * rm -rf that also copes with directories an image made read-only (mode 0555
 * stops an unprivileged owner from deleting what is inside). Best effort
 * only on cleanup paths, where the original error matters more.
 */
function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    makeDirectoriesWritable(path);
    rmSync(path, { recursive: true, force: true });
  }
}

function makeDirectoriesWritable(path: string): void {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) return;
  chmodSync(path, 0o700);
  for (const child of readdirSync(path)) makeDirectoriesWritable(join(path, child));
}

/** A directory's entries; none when it does not exist yet (a fresh store). */
function readDirectoryOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw asDiycError(error, path);
  }
}

/** Every image, sorted by name. In-progress imports and removals (dot names) are not images. */
export function listImages(store: Store): ImageInfo[] {
  return readDirectoryOrEmpty(store.imagesDir)
    .filter((name) => !name.startsWith(".") && imageExists(store, name))
    .sort()
    .map((name) => readImageInfo(store, name));
}

function readImageInfo(store: Store, name: string): ImageInfo {
  try {
    const info = JSON.parse(readFileSync(imageJsonPath(store, name), "utf8")) as Partial<ImageInfo>;
    return {
      name,
      source: String(info.source ?? ""),
      created: typeof info.created === "string" ? info.created : null,
      size: Number(info.size ?? 0),
      files: Number(info.files ?? 0),
    };
  } catch {
    // A hand-made or damaged image.json should not hide the image from `ls` (or `rm`).
    return { name, source: "", created: null, size: 0, files: 0 };
  }
}

/**
 * Removes an image unless a container uses it. `usersOf` names the
 * containers using an image (containersUsingImage, or the runtime's own).
 */
export function removeImage(store: Store, name: string, usersOf: (image: string) => string[]): void {
  validateName("image", name);
  if (!imageExists(store, name)) throw new ImageError(`no such image: ${name}`);
  const users = usersOf(name);
  if (users.length > 0) {
    const plural = users.length === 1 ? "container" : "containers";
    throw new ImageError(`image ${name} is used by ${plural} ${users.join(", ")}: remove ${users.length === 1 ? "it" : "them"} first`);
  }
  // Rename first so the image vanishes at once; a half-deleted rootfs is never visible as NAME.
  const doomed = join(store.imagesDir, `.remove-${name}-${process.pid}-${Date.now()}`);
  try {
    renameSync(store.imageDir(name), doomed);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") throw new ImageError(`no such image: ${name}`);
    throw asDiycError(error, store.imageDir(name));
  }
  removeTree(doomed);
}

/**
 * Names of containers whose container.json says `"image": image`, sorted.
 * A container directory without a readable container.json is being created
 * or deleted right now; it is skipped (best effort: the runtime's own lock
 * is what serializes create against image removal).
 */
export function containersUsingImage(store: Store, image: string): string[] {
  return readDirectoryOrEmpty(store.containersDir).filter((name) => readContainerImage(join(store.containerDir(name), "container.json")) === image).sort();
}

function readContainerImage(path: string): string | undefined {
  try {
    const config = JSON.parse(readFileSync(path, "utf8")) as { image?: unknown };
    return typeof config.image === "string" ? config.image : undefined;
  } catch {
    return undefined; // see containersUsingImage: skipped on purpose
  }
}

// ---------------------------------------------------------------------------
// The built-in image

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";

/** Directories of the built-in rootfs and their modes. */
const BUILTIN_DIRECTORIES: [string, number][] = [
  ["bin", 0o755],
  ["sbin", 0o755],
  ["usr", 0o755],
  ["usr/bin", 0o755],
  ["usr/sbin", 0o755],
  ["etc", 0o755],
  ["root", 0o700],
  ["tmp", 0o1777],
  ["proc", 0o755],
  ["sys", 0o755],
  ["dev", 0o755],
];

/**
 * Makes sure the built-in image exists, assembling it offline from the
 * host's static busybox: rootfs/bin/busybox, one symlink per applet, a
 * minimal /etc/passwd and /etc/group, and the usual empty directories.
 * Safe to call concurrently: a lost race means someone else built it.
 */
export function ensureBuiltinImage(store: Store, name: "busybox", busyboxPath = DEFAULT_BUSYBOX_PATH): ImageInfo {
  if (name !== "busybox") throw new ImageError(`no built-in image named ${JSON.stringify(name)}`);
  if (imageExists(store, name)) return readImageInfo(store, name);
  return withContext(`built-in image ${name}`, () => {
    requireStaticBinary(busyboxPath);
    const applets = listApplets(busyboxPath);
    try {
      return stageImage(store, name, `builtin:${busyboxPath}`, (rootfs) => fillBusyboxRootfs(rootfs, busyboxPath, applets));
    } catch (error) {
      if (error instanceof ImageError && imageExists(store, name)) return readImageInfo(store, name);
      throw error;
    }
  });
}

const PT_INTERP = 3;

/**
 * A static binary has no PT_INTERP program header (no dynamic loader), so it
 * runs in a rootfs that holds nothing else. Reads the ELF64 header by hand.
 */
function requireStaticBinary(path: string): void {
  const install = "install it with: apt-get install busybox-static";
  let elf: Buffer;
  try {
    elf = readFileSync(path);
  } catch (error) {
    throw new ImageError(`needs a static busybox at ${path}: ${asDiycError(error, path).message}; ${install}`);
  }
  const isElf64 = elf.length >= 64 && elf.readUInt32BE(0) === 0x7f454c46 && elf[4] === 2;
  if (!isElf64) throw new ImageError(`${path} is not a 64-bit ELF executable; ${install}`);
  const tableOffset = Number(elf.readBigUInt64LE(0x20));
  const entrySize = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * entrySize;
    if (at + 4 > elf.length) break;
    if (elf.readUInt32LE(at) === PT_INTERP) throw new ImageError(`${path} is dynamically linked; ${install}`);
  }
}

/** `busybox --list-full` gives each applet with its usual directory ("usr/bin/awk"). */
function listApplets(busyboxPath: string): string[] {
  const child = Bun.spawnSync([busyboxPath, "--list-full"], { stdin: "ignore" });
  if (child.exitCode !== 0) throw new ImageError(`${busyboxPath} --list-full failed: ${child.stderr.toString().trim()}`);
  return child.stdout.toString()
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && normalizeEntryPath(line)?.join("/") === line && line !== "bin/busybox");
}

function fillBusyboxRootfs(rootfs: string, busyboxPath: string, applets: readonly string[]): void {
  for (const [dir, mode] of BUILTIN_DIRECTORIES) {
    mkdirSync(join(rootfs, dir));
    chmodSync(join(rootfs, dir), mode); // mkdir's mode is cut by the umask; 1777 must be exact
  }
  copyFileSync(busyboxPath, join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of applets) {
    const linkPath = join(rootfs, applet);
    mkdirSync(dirname(linkPath), { recursive: true, mode: 0o755 });
    // Relative targets resolve the same inside the container and from the host.
    symlinkSync(posix.relative(posix.dirname(`/${applet}`), "/bin/busybox"), linkPath);
  }
  writeFileSync(join(rootfs, "etc/passwd"), PASSWD, { mode: 0o644 });
  writeFileSync(join(rootfs, "etc/group"), GROUP, { mode: 0o644 });
}
