// Image import, listing and removal as root on the real kernel: ownership,
// setuid, devices, hardlinks; the CLI; the built-in busybox image.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync,
  readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { image } from "../../src/cli/image";
import type { CliContext } from "../../src/cli/context";
import { linuxSyscalls } from "../../src/linux/syscalls";
import { Store } from "../../src/store/store";
import { listImages, removeImage } from "../../src/image/images";
import { ensureBuiltinImage } from "../../src/image/builtin";
import { EMPTY_STORE, imageExists, imageRoot, importFile, storeContents } from "../helpers/images";
import { makeTar } from "../fixtures/tar-writer";

const isRoot = process.geteuid?.() === 0;
const BUN = resolve(import.meta.dir, "../../node_modules/.bin/bun");
const IMPORT_MODULE = resolve(import.meta.dir, "../../src/image/import.ts");
const STORE_MODULE = resolve(import.meta.dir, "../../src/store/store.ts");
const SYSCALLS_MODULE = resolve(import.meta.dir, "../../src/linux/syscalls.ts");

let tmp: string;
let store: Store;

beforeEach(() => {
  tmp = mkdtempSync("/tmp/diyc-image-int-");
  store = new Store(join(tmp, "store"));
});

afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
  expect(existsSync(tmp)).toBe(false);
});

function cliContext(): CliContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    store, syscalls: linuxSyscalls, verbose: false, diycCommand: [],
    print: (line) => out.push(line), log: (line) => err.push(line), out, err,
  };
}

/** A tree with everything ownership-related, archived by GNU tar. */
function buildRealArchive(gzip: boolean): string {
  const source = join(tmp, "src");
  mkdirSync(join(source, "usr/bin"), { recursive: true });
  mkdirSync(join(source, "dev"));
  mkdirSync(join(source, "secret"), { mode: 0o750 });
  chownSync(join(source, "secret"), 42, 43);
  chmodSync(join(source, "secret"), 0o750);
  writeFileSync(join(source, "usr/bin/su"), "#!/bin/sh\necho su\n");
  chownSync(join(source, "usr/bin/su"), 0, 0);
  chmodSync(join(source, "usr/bin/su"), 0o4755);
  writeFileSync(join(source, "usr/bin/wall"), "wall");
  chownSync(join(source, "usr/bin/wall"), 1234, 5678);
  chmodSync(join(source, "usr/bin/wall"), 0o2755);
  linkSync(join(source, "usr/bin/su"), join(source, "usr/bin/su-hardlink"));
  symlinkSync("/usr/bin/su", join(source, "usr/bin/su-symlink"));
  execFileSync("mknod", ["-m", "0666", join(source, "dev/null"), "c", "1", "3"]);
  execFileSync("mknod", ["-m", "0600", join(source, "dev/fifo"), "p"]);
  mkdirSync(join(source, "tmp"));
  chmodSync(join(source, "tmp"), 0o1777);
  utimesSync(join(source, "usr/bin/wall"), 1_500_000_000, 1_500_000_000);
  const archive = join(tmp, gzip ? "real.tar.gz" : "real.tar");
  execFileSync("tar", ["--numeric-owner", gzip ? "-czpf" : "-cpf", archive, "-C", source, "."]);
  return archive;
}

describe.skipIf(!isRoot)("import as root", () => {
  for (const gzip of [false, true]) {
    test(`GNU tar archive${gzip ? " (gzip)" : ""}: uid/gid, setuid/setgid, devices, hardlinks, symlinks`, async () => {
      await importFile(store, buildRealArchive(gzip), "real", linuxSyscalls);
      const rootfs = imageRoot(store, "real");
      const stat = (path: string) => lstatSync(join(rootfs, path));
      expect(stat("usr/bin/su")).toMatchObject({ uid: 0, gid: 0 });
      expect(stat("usr/bin/su").mode & 0o7777).toBe(0o4755);
      expect(stat("usr/bin/wall")).toMatchObject({ uid: 1234, gid: 5678, mtimeMs: 1_500_000_000_000 });
      expect(stat("usr/bin/wall").mode & 0o7777).toBe(0o2755);
      expect(stat("secret")).toMatchObject({ uid: 42, gid: 43 });
      expect(stat("secret").mode & 0o7777).toBe(0o750);
      expect(stat("tmp").mode & 0o7777).toBe(0o1777);
      expect(stat("usr/bin/su-hardlink").ino).toBe(stat("usr/bin/su").ino);
      expect(stat("usr/bin/su").nlink).toBe(2);
      expect(readlinkSync(join(rootfs, "usr/bin/su-symlink"))).toBe("/usr/bin/su");
      expect(stat("dev/null").isCharacterDevice()).toBe(true);
      expect(stat("dev/null").rdev).toBe(0x103);
      expect(stat("dev/null").mode & 0o7777).toBe(0o666);
      expect(stat("dev/fifo").isFIFO()).toBe(true);
      expect(stat("dev/fifo").mode & 0o7777).toBe(0o600);
    });
  }

  test("ownership from a hand-built archive, setuid kept after chown", async () => {
    const file = join(tmp, "x.tar");
    writeFileSync(file, makeTar([
      { name: "bin/", type: "dir", uid: 7, gid: 8, mode: 0o711 },
      { name: "bin/ping", content: "p", uid: 0, gid: 0, mode: 0o4711 },
      { name: "bin/ping6", type: "hardlink", linkname: "bin/ping" },
      { name: "bin/link", type: "symlink", linkname: "ping", uid: 9, gid: 10 },
      { name: "dev/sda", type: "block", devmajor: 8, devminor: 1, mode: 0o660, gid: 6 },
    ]));
    await importFile(store, file, "hand", linuxSyscalls);
    const rootfs = imageRoot(store, "hand");
    expect(lstatSync(join(rootfs, "bin"))).toMatchObject({ uid: 7, gid: 8 });
    expect(lstatSync(join(rootfs, "bin")).mode & 0o7777).toBe(0o711);
    expect(lstatSync(join(rootfs, "bin/ping")).mode & 0o7777).toBe(0o4711);
    expect(lstatSync(join(rootfs, "bin/ping6")).ino).toBe(lstatSync(join(rootfs, "bin/ping")).ino);
    expect(lstatSync(join(rootfs, "bin/link"))).toMatchObject({ uid: 9, gid: 10 });
    expect(lstatSync(join(rootfs, "dev/sda")).isBlockDevice()).toBe(true);
    expect(lstatSync(join(rootfs, "dev/sda")).rdev).toBe(0x801);
  });

  test("two concurrent imports of one name: both succeed, the layer is stored once", async () => {
    const file = join(tmp, "big.tar");
    writeFileSync(file, makeTar(Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, content: "x".repeat(4096) }))));
    const script = `
      import { importImage } from ${JSON.stringify(IMPORT_MODULE)};
      import { Store } from ${JSON.stringify(STORE_MODULE)};
      import { linuxSyscalls } from ${JSON.stringify(SYSCALLS_MODULE)};
      try { await importImage(new Store(${JSON.stringify(store.root)}), ${JSON.stringify(file)}, linuxSyscalls, { name: "race" }); console.log("won"); }
      catch (e) { console.log(e.message); }`;
    const runs = await Promise.all([0, 1].map(async () => {
      const child = Bun.spawn([BUN, "-e", script], { stdout: "pipe", stderr: "inherit" });
      await child.exited;
      return (await new Response(child.stdout).text()).trim();
    }));
    expect(runs).toEqual(["won", "won"]);
    const contents = storeContents(store);
    expect(contents.names).toEqual(["race:latest"]);
    expect(contents.layers).toHaveLength(1);
    expect(contents.tmp).toEqual([]);
    expect(readdirSync(imageRoot(store, "race"))).toHaveLength(300);
  });
});

describe("image CLI", () => {
  async function importViaCli(name: string): Promise<void> {
    const file = join(tmp, `${name}.tar`);
    writeFileSync(file, makeTar([{ name: "etc/", type: "dir" }, { name: "etc/os-release", content: "ID=test\n" }]));
    const ctx = cliContext();
    expect(await image(["import", file, name], ctx)).toBe(0);
    expect(ctx.out).toEqual([`${name}:latest`]);
  }

  test("import, ls, rm", async () => {
    await importViaCli("alpha");
    await importViaCli("beta");
    const ls = cliContext();
    expect(await image(["ls"], ls)).toBe(0);
    ls.out.splice(0, ls.out.length, ...ls.out.join("\n").split("\n")); // lines as the user sees them
    expect(ls.out[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+UNIQUE\s+SHARED$/);
    expect(ls.out.slice(1).map((line) => line.split(/\s+/).slice(0, 2).join(":"))).toEqual(["alpha:latest", "beta:latest"]);
    // Same content, same layer: stored once, so both images share all of it.
    expect(ls.out[1]).toMatch(/^alpha\s+latest\s+[a-f0-9]{12}\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d+(\.\d)?kB\s+0B\s+\d+(\.\d)?kB$/);
    expect(storeContents(store).layers).toHaveLength(1);
    expect(listImages(store).map((info) => info.names)).toEqual([["alpha:latest"], ["beta:latest"]]);

    const rm = cliContext();
    expect(await image(["rm", "alpha"], rm)).toBe(0);
    expect(rm.out[0]).toBe("Untagged: alpha:latest");
    expect(rm.out[1]).toMatch(/^Deleted: sha256:[a-f0-9]{64}$/);
    expect(imageExists(store, "alpha")).toBe(false);
    expect(storeContents(store).names).toEqual(["beta:latest"]);
    expect(storeContents(store).layers).toHaveLength(1); // beta still needs it
    expect(await image(["rm", "beta"], cliContext())).toBe(0);
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });

  test("rm is refused while a container holds the image, unless -f", async () => {
    await importViaCli("used");
    const layout = (await import("../../src/image/images")).imageLayout(store);
    const { holdImageForContainer } = await import("../../src/image/images");
    for (const name of ["web", "db"]) {
      holdImageForContainer(store, "used", name, linuxSyscalls);
      mkdirSync(store.containerDir(name), { recursive: true });
    }
    // A hold whose container is gone does not count.
    holdImageForContainer(store, "used", "gone", linuxSyscalls);
    await expect(image(["rm", "used"], cliContext())).rejects.toThrow("image used is used by containers db, web: remove them first (or use -f)");
    expect(imageExists(store, "used")).toBe(true);

    rmSync(store.containerDir("web"), { recursive: true });
    await expect(removeImage(store, "used", linuxSyscalls, false)).rejects.toThrow("image used is used by container db: remove it first (or use -f)");
    // -f: the name goes, the layers stay while db exists.
    const forced = await removeImage(store, "used", linuxSyscalls, true);
    expect(forced).toEqual({ untagged: ["used:latest"], deleted: [] });
    expect(storeContents(store).layers).toHaveLength(1);
    expect(existsSync(layout.holdsDir)).toBe(true);
    rmSync(store.containerDir("db"), { recursive: true });
    const pruned = cliContext();
    expect(await image(["prune"], pruned)).toBe(0);
    expect(pruned.out.at(-1)).toMatch(/^Removed 1 image\(s\) and 1 layer\(s\)/);
    expect(storeContents(store)).toEqual(EMPTY_STORE);
    expect(readdirSync(layout.holdsDir)).toEqual([]);
  });

  test("rm of several: each error is reported, the rest are removed", async () => {
    await importViaCli("one");
    const ctx = cliContext();
    expect(await image(["rm", "missing", "one"], ctx)).toBe(125);
    expect(ctx.err).toEqual(["diyc: no such image: missing"]);
    expect(ctx.out[0]).toEqual("Untagged: one:latest");
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });

  test("usage errors and help", async () => {
    const help = cliContext();
    expect(await image(["--help"], help)).toBe(0);
    expect(help.out.join("\n")).toContain("import [--platform OS/ARCH] FILE|DIR|- [NAME]");
    await expect(image(["import"], cliContext())).rejects.toThrow("usage: diyc image import");
    await expect(image(["frobnicate"], cliContext())).rejects.toThrow('unknown image command "frobnicate"');
    await expect(image(["rm", "nope"], cliContext())).rejects.toThrow("no such image: nope");
  });

  test("ls on an empty store prints only the header", async () => {
    const ctx = cliContext();
    expect(await image(["ls"], ctx)).toBe(0);
    expect(ctx.out).toEqual(["REPOSITORY   TAG   IMAGE ID   CREATED   SIZE   UNIQUE   SHARED"]);
  });

  test("corrupt gzip through the CLI leaves nothing", async () => {
    const file = join(tmp, "bad.tgz");
    const gz = makeTar([{ name: "a", content: "a".repeat(10_000) }], { gzip: true });
    writeFileSync(file, gz.subarray(0, gz.length / 2));
    await expect(image(["import", file, "bad"], cliContext())).rejects.toThrow(`image import ${file}: corrupt gzip data`);
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });
});

describe.skipIf(!existsSync("/bin/busybox"))("built-in busybox image", () => {
  test("assembled from the host's static busybox", async () => {
    const info = await ensureBuiltinImage(store, linuxSyscalls);
    expect(info.layers).toHaveLength(1);
    const rootfs = imageRoot(store, "busybox");
    expect(lstatSync(join(rootfs, "bin/busybox")).isFile()).toBe(true);
    expect(readlinkSync(join(rootfs, "bin/sh"))).toBe("busybox");
    expect(readlinkSync(join(rootfs, "usr/bin/env"))).toBe("../../bin/busybox");
    expect(statSync(join(rootfs, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(rootfs, "root")).mode & 0o7777).toBe(0o700);
    for (const dir of ["proc", "sys", "dev", "etc"]) expect(statSync(join(rootfs, dir)).isDirectory()).toBe(true);
    expect(readFileSync(join(rootfs, "etc/passwd"), "utf8")).toMatch(/^root:x:0:0:.*\nnobody:x:65534:/);
    expect(readFileSync(join(rootfs, "etc/group"), "utf8")).toStartWith("root:x:0:");
    expect(spawnSync(join(rootfs, "bin/busybox"), ["--help"]).status).toBe(0);
    expect(spawnSync(join(rootfs, "bin/sh"), ["-c", "echo hello from sh"], { encoding: "utf8" }).stdout).toBe("hello from sh\n");
    // Idempotent: a second call finds it.
    expect((await ensureBuiltinImage(store, linuxSyscalls)).id).toBe(info.id);
    expect(storeContents(store).names).toEqual(["busybox:latest"]);
    expect(storeContents(store).layers).toHaveLength(1);
  });

  test("a dynamically linked or missing busybox: a clear error, nothing left", async () => {
    await expect(ensureBuiltinImage(store, linuxSyscalls, "/bin/ls")).rejects.toThrow(
      "built-in image busybox: /bin/ls is dynamically linked; install it with: apt-get install busybox-static",
    );
    await expect(ensureBuiltinImage(store, linuxSyscalls, join(tmp, "none"))).rejects.toThrow(
      /^built-in image busybox: needs a static busybox at .*: .*\(ENOENT\); install it with: apt-get install busybox-static$/,
    );
    expect(storeContents(store)).toEqual(EMPTY_STORE);
  });
});
