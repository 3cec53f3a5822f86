// The built-in image "busybox": a single-layer image assembled offline from
// the host's static busybox the first time a container uses it. Its layer is
// not made from a tar, so its "diff id" is a digest of what it is built
// from (the binary and the applet list): the same host busybox gives the
// same layer, and a new busybox a new one.

import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { asDiycError } from "../linux/errors";
import type { Syscalls } from "../linux/syscalls";
import type { Store } from "../store/store";
import { ImageError } from "./errors";
import { normalizeEntryPath } from "./extract";
import { commitImage, findImage, imageLayout, sha256, singleLayerImage, type ImageRecord } from "./images";
import { installLayer, layerExists } from "./layers";
import { stagingDir, withImagesLock } from "./layout";
import { MediaType } from "./oci-image";
import { measureTree, removeTree } from "./tree";

export const DEFAULT_BUSYBOX_PATH = "/bin/busybox";
export const BUILTIN_IMAGE = "busybox";

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";

/** Directories of the built-in rootfs and their modes. */
const BUILTIN_DIRECTORIES: [string, number][] = [
  ["bin", 0o755], ["sbin", 0o755], ["usr", 0o755], ["usr/bin", 0o755], ["usr/sbin", 0o755],
  ["etc", 0o755], ["root", 0o700], ["tmp", 0o1777], ["proc", 0o755], ["sys", 0o755], ["dev", 0o755],
];

/**
 * Makes sure the built-in image exists. Safe to call concurrently: both
 * build the same layer, one rename wins, and both name the same image.
 */
export async function ensureBuiltinImage(store: Store, syscalls: Syscalls, busyboxPath = DEFAULT_BUSYBOX_PATH): Promise<ImageRecord> {
  const layout = imageLayout(store);
  const existing = findImage(layout, BUILTIN_IMAGE);
  if (existing) return existing;
  try {
    const binary = requireStaticBinary(busyboxPath);
    const applets = listApplets(busyboxPath);
    const diffId = sha256(new TextEncoder().encode(`diyc builtin busybox\n${sha256(binary)}\n${applets.join("\n")}\n`));
    return await withImagesLock(layout, syscalls, "shared", async () => {
      if (!layerExists(layout, diffId)) {
        const staging = stagingDir(layout, "layer");
        try {
          const root = join(staging, "root");
          mkdirSync(root, 0o755);
          fillBusyboxRootfs(root, busyboxPath, applets);
          installLayer(layout, staging, { diffId, ...measureTree(root) });
        } catch (error) {
          removeTree(staging);
          if (!layerExists(layout, diffId)) throw error; // else: a concurrent build won
        }
      }
      const image = singleLayerImage({ diffId, digest: diffId, size: 0, mediaType: MediaType.ociLayer }, { Cmd: ["/bin/sh"] });
      return commitImage(layout, syscalls, { ...image, source: `builtin:${busyboxPath}` }, [`${BUILTIN_IMAGE}:latest`]);
    });
  } catch (error) {
    const diycError = asDiycError(error);
    throw new ImageError(`built-in image ${BUILTIN_IMAGE}: ${diycError.message}`, { cause: error });
  }
}

const PT_INTERP = 3;

/**
 * A static binary has no PT_INTERP program header (no dynamic loader), so it
 * runs in a rootfs that holds nothing else. Reads the ELF64 header by hand.
 */
function requireStaticBinary(path: string): Buffer {
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
  return elf;
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
