// Hostile archives: nothing may land outside the image, and a refused import
// leaves no image and no staging directory behind.
//
// Layout of each test's temporary directory:
//   TMP/store/            the store (the image is staged in store/images/.import-*/rootfs)
//   TMP/outside/          a sentinel that must stay empty
//   TMP/victim/secret     an existing file an archive tries to overwrite or link

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Errno } from "../../src/linux/errors";
import { RecordingSyscalls } from "../../src/linux/recording";
import { linuxSyscalls } from "../../src/linux/syscalls";
import { Store } from "../../src/store/store";
import { ImageError } from "../../src/image/errors";
import { normalizeEntryPath } from "../../src/image/extract";
import { makeDevice } from "../../src/linux/devices";
import { EMPTY_STORE, imageExists, imageRoot, importFile, storeContents } from "../helpers/images";
import { makeTar, type FixtureEntry } from "../fixtures/tar-writer";

let tmp: string;
let store: Store;
let outside: string;
let victim: string;
/** From store/images/tmp/layer-X/root up to TMP. */
const UP_TO_TMP = "../../../../..";

beforeEach(() => {
  tmp = mkdtempSync("/tmp/diyc-image-extract-");
  store = new Store(join(tmp, "store"));
  outside = join(tmp, "outside");
  victim = join(tmp, "victim");
  mkdirSync(outside);
  mkdirSync(victim, { mode: 0o755 });
  writeFileSync(join(victim, "secret"), "secret", { mode: 0o644 });
});

afterEach(() => {
  // An unprivileged run cannot delete inside the read-only directories an image made.
  execFileSync("chmod", ["-R", "u+rwX", tmp]);
  rmSync(tmp, { recursive: true, force: true });
  expect(existsSync(tmp)).toBe(false);
});

/** Harmless entries first, so a refusal happens mid-extraction, with files already staged. */
const PREAMBLE: FixtureEntry[] = [
  { name: "etc/", type: "dir" },
  { name: "etc/hostname", content: "fine\n" },
];

function writeArchive(entries: FixtureEntry[], gzip = false): string {
  const file = join(tmp, gzip ? "archive.tar.gz" : "archive.tar");
  writeFileSync(file, makeTar([...PREAMBLE, ...entries], { gzip }));
  return file;
}

function expectNothingEscaped(): void {
  expect(readdirSync(outside)).toEqual([]);
  expect(readdirSync(victim)).toEqual(["secret"]);
  expect(readFileSync(join(victim, "secret"), "utf8")).toBe("secret");
  expect(statSync(join(victim, "secret")).nlink).toBe(1);
  expect(statSync(join(victim, "secret")).mode & 0o7777).toBe(0o644);
  expect(statSync(victim).mode & 0o7777).toBe(0o755);
}

async function expectRefused(entries: FixtureEntry[], reason: string, gzip = false): Promise<void> {
  const file = writeArchive(entries, gzip);
  let error: unknown;
  try {
    await importFile(store, file, "evil", linuxSyscalls);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ImageError);
  expect((error as Error).message).toBe(`image import ${file}: ${reason}`);
  expect(imageExists(store, "evil")).toBe(false);
  expect(storeContents(store)).toEqual(EMPTY_STORE); // no image, no layer, no staging dir
  expectNothingEscaped();
}

async function importOk(entries: FixtureEntry[]): Promise<string> {
  await importFile(store, writeArchive(entries), "ok", linuxSyscalls);
  expectNothingEscaped();
  expect(storeContents(store).names).toEqual(["ok:latest"]);
  expect(storeContents(store).tmp).toEqual([]);
  return imageRoot(store, "ok");
}

describe("normalizeEntryPath", () => {
  test("strips leading slashes and dots, resolves inner ..", async () => {
    expect(normalizeEntryPath("/etc/passwd")).toEqual(["etc", "passwd"]);
    expect(normalizeEntryPath("./a//b/./c/")).toEqual(["a", "b", "c"]);
    expect(normalizeEntryPath("a/../b")).toEqual(["b"]);
    expect(normalizeEntryPath("./")).toEqual([]);
  });
  test("refuses climbing above the root", async () => {
    expect(normalizeEntryPath("..")).toBeNull();
    expect(normalizeEntryPath("../x")).toBeNull();
    expect(normalizeEntryPath("a/../../x")).toBeNull();
    expect(normalizeEntryPath("/../x")).toBeNull();
  });
});

describe("hostile names", () => {
  test('"../" entries are refused', async () => {
    await expectRefused([{ name: `${UP_TO_TMP}/outside/x`, content: "pwned" }], `entry "${UP_TO_TMP}/outside/x" escapes the image directory`);
  });
  test('".." hidden in the middle is refused', async () => {
    await expectRefused([{ name: "etc/../../x", content: "pwned" }], 'entry "etc/../../x" escapes the image directory');
  });
  test("gzip changes nothing", async () => {
    await expectRefused([{ name: "../../etc/x", content: "pwned" }], 'entry "../../etc/x" escapes the image directory', true);
  });
  test("a directory entry that escapes is refused too", async () => {
    await expectRefused([{ name: "../x/", type: "dir" }], 'entry "../x/" escapes the image directory');
  });
  test("a pax path can escape like any name", async () => {
    await expectRefused([{ name: "innocent", content: "x", pax: { path: "../../x" } }], 'entry "../../x" escapes the image directory');
  });
  test("a file named like the image root is refused", async () => {
    await expectRefused([{ name: ".", content: "x", type: "file" }], 'entry "." names the image root but is not a directory');
  });
  test("absolute names land inside the image", async () => {
    const rootfs = await importOk([{ name: `${outside}/x`, content: "inside" }, { name: "/etc/abs", content: "abs" }]);
    expect(readFileSync(join(rootfs, outside, "x"), "utf8")).toBe("inside");
    expect(readFileSync(join(rootfs, "etc/abs"), "utf8")).toBe("abs");
  });
  test("inner .. that stays inside is fine", async () => {
    const rootfs = await importOk([{ name: "etc/../top", content: "t" }]);
    expect(readFileSync(join(rootfs, "top"), "utf8")).toBe("t");
  });
});

describe("writes through symlinks", () => {
  test("absolute symlink to a directory outside, then a file through it", async () => {
    await expectRefused(
      [{ name: "evil", type: "symlink", linkname: outside }, { name: "evil/pwned", content: "x" }],
      'entry "evil/pwned" would be written through the symlink "evil"',
    );
  });
  test("relative symlink climbing out, then a file through it", async () => {
    await expectRefused(
      [{ name: "evil", type: "symlink", linkname: `${UP_TO_TMP}/outside` }, { name: "evil/pwned", content: "x" }],
      'entry "evil/pwned" would be written through the symlink "evil"',
    );
  });
  test('symlink to "/", then a file through it', async () => {
    await expectRefused(
      [{ name: "root", type: "symlink", linkname: "/" }, { name: `root${outside}/pwned`, content: "x" }],
      `entry "root${outside}/pwned" would be written through the symlink "root"`,
    );
  });
  test("symlink pointing inside is refused as a parent too (deep)", async () => {
    await expectRefused(
      [{ name: "etc/alias", type: "symlink", linkname: "." }, { name: "etc/alias/x", content: "x" }],
      'entry "etc/alias/x" would be written through the symlink "etc/alias"',
    );
  });
  test("a directory through a symlink", async () => {
    await expectRefused(
      [{ name: "evil", type: "symlink", linkname: outside }, { name: "evil/sub/", type: "dir" }],
      'entry "evil/sub/" would be written through the symlink "evil"',
    );
  });
  test("a fifo through a symlink", async () => {
    await expectRefused(
      [{ name: "evil", type: "symlink", linkname: outside }, { name: "evil/fifo", type: "fifo" }],
      'entry "evil/fifo" would be written through the symlink "evil"',
    );
  });
  test("a file under a regular file", async () => {
    await expectRefused([{ name: "etc/hostname/x", content: "x" }], 'entry "etc/hostname/x" has a parent "etc/hostname" that is not a directory');
  });
});

describe("a directory replaced by a symlink is never written through (the known-directory cache forgets it)", () => {
  test("dir d, d/x, then symlink d -> outside, then d/y", async () => {
    await expectRefused(
      [{ name: "d/", type: "dir" }, { name: "d/sub/", type: "dir" }, { name: "d/sub/x", content: "x" }, { name: "d", type: "symlink", linkname: outside }, { name: "d/sub/y", content: "pwned" }],
      'entry "d/sub/y" would be written through the symlink "d"',
    );
  });
  test("a whiteout of a directory, then a file under its name", async () => {
    await expectRefused(
      [{ name: "w/", type: "dir" }, { name: "w/x", content: "x" }, { name: ".wh.w" }, { name: "w/y", content: "y" }],
      'entry "w/y" has a parent "w" that is not a directory',
    );
  });
});

describe("hardlinks", () => {
  test("to /etc/passwd: an absolute target means the image's own, which is absent", async () => {
    const before = statSync("/etc/passwd").nlink;
    await expectRefused([{ name: "h", type: "hardlink", linkname: "/etc/passwd" }], 'entry "h" is a hardlink to "/etc/passwd", which is not in the image');
    expect(statSync("/etc/passwd").nlink).toBe(before);
  });
  test("to ../outside", async () => {
    await expectRefused(
      [{ name: "h", type: "hardlink", linkname: `${UP_TO_TMP}/victim/secret` }],
      `entry "h" is a hardlink to "${UP_TO_TMP}/victim/secret", outside the image directory`,
    );
  });
  test("through a symlink", async () => {
    await expectRefused(
      [{ name: "s", type: "symlink", linkname: victim }, { name: "h", type: "hardlink", linkname: "s/secret" }],
      'entry "h" is a hardlink to "s/secret", through the symlink "s"',
    );
  });
  test("placed through a symlink", async () => {
    await expectRefused(
      [{ name: "s", type: "symlink", linkname: outside }, { name: "s/h", type: "hardlink", linkname: "etc/hostname" }],
      'entry "s/h" would be written through the symlink "s"',
    );
  });
  test("to a directory", async () => {
    await expectRefused([{ name: "h", type: "hardlink", linkname: "etc" }], 'entry "h" is a hardlink to the directory "etc"');
  });
  test("to a symlink links the symlink itself, not what it points to", async () => {
    const rootfs = await importOk([{ name: "s", type: "symlink", linkname: join(victim, "secret") }, { name: "h", type: "hardlink", linkname: "s" }]);
    expect(lstatSync(join(rootfs, "h")).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(rootfs, "h")).ino).toBe(lstatSync(join(rootfs, "s")).ino);
  });
});

describe("replacing existing entries", () => {
  test("a file replaces a symlink; the link's target is untouched", async () => {
    const rootfs = await importOk([
      { name: "f", type: "symlink", linkname: join(victim, "secret") },
      { name: "f", content: "mine", mode: 0o600 },
    ]);
    expect(lstatSync(join(rootfs, "f")).isFile()).toBe(true);
    expect(readFileSync(join(rootfs, "f"), "utf8")).toBe("mine");
  });
  test("a relative symlink replaced by a file", async () => {
    const rootfs = await importOk([
      { name: "f", type: "symlink", linkname: `${UP_TO_TMP}/victim/secret` },
      { name: "f", content: "mine" },
    ]);
    expect(readFileSync(join(rootfs, "f"), "utf8")).toBe("mine");
  });
  test("a directory entry replaces a symlink to a directory (no chmod through it)", async () => {
    const rootfs = await importOk([
      { name: "d", type: "symlink", linkname: victim },
      { name: "d/", type: "dir", mode: 0o777 },
    ]);
    expect(lstatSync(join(rootfs, "d")).isDirectory()).toBe(true);
    expect(statSync(join(rootfs, "d")).mode & 0o7777).toBe(0o777);
  });
  test("a directory later replaced by a symlink: its deferred mode is not applied through the link", async () => {
    const rootfs = await importOk([
      { name: "d/", type: "dir", mode: 0o777 },
      { name: "d", type: "symlink", linkname: victim },
    ]);
    expect(readlinkSync(join(rootfs, "d"))).toBe(victim);
  });
  test("a fifo replaces a symlink", async () => {
    const rootfs = await importOk([
      { name: "p", type: "symlink", linkname: join(victim, "secret") },
      { name: "p", type: "fifo", mode: 0o640 },
    ]);
    expect(lstatSync(join(rootfs, "p")).isFIFO()).toBe(true);
    expect(lstatSync(join(rootfs, "p")).mode & 0o7777).toBe(0o640);
  });
  test("a hardlink replaces a symlink", async () => {
    const rootfs = await importOk([
      { name: "l", type: "symlink", linkname: join(victim, "secret") },
      { name: "l", type: "hardlink", linkname: "etc/hostname" },
    ]);
    expect(readFileSync(join(rootfs, "l"), "utf8")).toBe("fine\n");
  });
});

describe("what an import keeps (unprivileged-safe checks)", () => {
  test("modes, symlinks as stored, read-only directories, mtimes", async () => {
    const rootfs = await importOk([
      { name: "ro/", type: "dir", mode: 0o555, mtime: 1_000_000 },
      { name: "ro/file", content: "x", mode: 0o640, mtime: 2_000_000 },
      { name: "abs", type: "symlink", linkname: "/etc/shadow" },
      { name: "sticky/", type: "dir", mode: 0o1777 },
    ]);
    expect(statSync(join(rootfs, "ro")).mode & 0o7777).toBe(0o555);
    expect(statSync(join(rootfs, "ro")).mtimeMs).toBe(1_000_000_000);
    expect(statSync(join(rootfs, "ro/file")).mode & 0o7777).toBe(0o640);
    expect(statSync(join(rootfs, "ro/file")).mtimeMs).toBe(2_000_000_000);
    expect(readlinkSync(join(rootfs, "abs"))).toBe("/etc/shadow");
    expect(statSync(join(rootfs, "sticky")).mode & 0o7777).toBe(0o1777);
  });
});

// getfattr: Debian's attr package (./setup installs it).
describe.skipIf(process.geteuid?.() !== 0)("whiteouts, opaque dirs, xattrs, holes (root: mknod and trusted.* xattrs)", () => {
  const xattr = (path: string, name: string) => {
    const out = Bun.spawnSync(["getfattr", "--only-values", "-h", "-n", name, path]);
    return out.exitCode === 0 ? out.stdout.toString() : undefined;
  };
  test(".wh.NAME becomes a 0:0 character device; .wh..wh..opq marks its directory opaque; aufs names vanish", async () => {
    const root = await importOk([
      { name: "a/.wh.gone", content: "" },
      { name: "b/.wh..wh..opq" },
      { name: "b/kept", content: "k" },
      { name: ".wh..wh.plnk/x", content: "" },
      { name: ".wh..wh.aufs" },
      { name: "c/.wh..", content: "" },
    ]);
    const gone = lstatSync(join(root, "a/gone"));
    expect(gone.isCharacterDevice()).toBe(true);
    expect(gone.rdev).toBe(0);
    expect(readdirSync(join(root, "a"))).toEqual(["gone"]);
    expect(readdirSync(join(root, "b"))).toEqual(["kept"]);
    expect(xattr(join(root, "b"), "trusted.overlay.opaque")).toBe("y");
    expect(readdirSync(root).sort()).toEqual(["a", "b", "etc"]); // ".wh.." hides nothing: c is not even made
  });
  test("a whiteout replaces a file of the same layer", async () => {
    const root = await importOk([{ name: "f", content: "x" }, { name: ".wh.f" }]);
    expect(lstatSync(join(root, "f")).isCharacterDevice()).toBe(true);
  });
  test("a whiteout is never written through a symlink", async () => {
    await expectRefused(
      [{ name: "l", type: "symlink", linkname: join(victim) }, { name: "l/.wh.secret" }],
      'entry "l/.wh.secret" would be written through the symlink "l"',
    );
  });
  test("pax SCHILY.xattr records become xattrs; trusted.overlay.* from a layer is dropped", async () => {
    const root = await importOk([
      { name: "cap", content: "c", pax: { "SCHILY.xattr.user.note": "hello", "SCHILY.xattr.trusted.overlay.opaque": "y" } },
    ]);
    expect(xattr(join(root, "cap"), "user.note")).toBe("hello");
    expect(xattr(join(root, "cap"), "trusted.overlay.opaque")).toBeUndefined();
  });
  test("all-zero pieces of a file are holes", async () => {
    const root = await importOk([{ name: "sparse", content: new Uint8Array(4 << 20) }, { name: "dense", content: new Uint8Array(1 << 20).fill(1) }]);
    expect(statSync(join(root, "sparse")).size).toBe(4 << 20);
    expect(statSync(join(root, "sparse")).blocks).toBe(0);
    expect(readFileSync(join(root, "dense")).every((b) => b === 1)).toBe(true);
  });
});

describe("failures leave nothing", () => {
  test("mknod failing (EPERM) fails the import with a one-line syscall error", async () => {
    const file = writeArchive([{ name: "dev/null", type: "char", devmajor: 1, devminor: 3 }]);
    const syscalls = new RecordingSyscalls().failWith("mknod", Errno.EPERM);
    await expect(importFile(store, file, "devs", syscalls)).rejects.toThrow(
      new RegExp(`^image import ${file}: mknod /.*/root/dev/null: operation not permitted \\(EPERM\\)$`),
    );
    expect(syscalls.calls.map((call) => call.name).filter((name) => name !== "flock")).toEqual(["mknod"]);
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });
  test("a corrupt gzip leaves no image and no staging directory", async () => {
    const file = join(tmp, "bad.tar.gz");
    const gz = makeTar([{ name: "a", content: "a" }], { gzip: true });
    writeFileSync(file, gz.subarray(0, gz.length - 10));
    await expect(importFile(store, file, "bad", linuxSyscalls)).rejects.toThrow(/^image import .*: corrupt gzip data/);
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });
  test("a missing file is one line with the errno", async () => {
    await expect(importFile(store, join(tmp, "nope.tar"), "x", linuxSyscalls)).rejects.toThrow(
      `image import ${join(tmp, "nope.tar")}: stat ${join(tmp, "nope.tar")}: no such file or directory (ENOENT)`,
    );
  });
  test("an invalid name is refused before anything is read", async () => {
    await expect(importFile(store, "/nonexistent", "../x", linuxSyscalls)).rejects.toThrow(/invalid image reference/);
    expect(existsSync(store.imagesDir)).toBe(false);
  });
  test("importing a name that exists moves the name to the new image; the old one stays, unnamed", async () => {
    await importOk([]);
    const before = storeContents(store);
    await importFile(store, writeArchive([{ name: "new", content: "n" }]), "ok", linuxSyscalls);
    const after = storeContents(store);
    expect(after.names).toEqual(["ok:latest"]);
    expect(after.records).toHaveLength(2);
    expect(after.layers).toHaveLength(2);
    expect(existsSync(join(imageRoot(store, "ok"), "new"))).toBe(true);
    expect(before.records.every((r) => after.records.includes(r))).toBe(true);
  });
});

test("makeDevice encodes like glibc makedev", async () => {
  expect(makeDevice(1, 3)).toBe(0x103);
  expect(makeDevice(8, 0x12345)).toBe(0x12300845);
  expect(makeDevice(0x1234, 0x56)).toBe(2 ** 44 + 0x23456); // major's high bits go to bit 44
});
