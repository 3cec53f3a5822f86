// The tar reader: formats it understands, and archives it must refuse.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ImageError } from "../../src/image/errors";
import { parseTar, type TarEntry } from "../../src/image/tar";
import { makeTar, setChecksum } from "../fixtures/tar-writer";

const text = (entry: TarEntry | undefined) => new TextDecoder().decode(entry?.data);
const long = `${"d".repeat(60)}/${"e".repeat(60)}/file-with-a-long-name.txt`;

describe("parseTar: formats", () => {
  test("ustar: every entry type with its metadata", () => {
    const entries = parseTar(makeTar([
      { name: "dir/", type: "dir", mode: 0o1777, uid: 1, gid: 2, mtime: 1234 },
      { name: "dir/file", content: "hello", mode: 0o4755, uid: 1000, gid: 100 },
      { name: "dir/link", type: "symlink", linkname: "/etc/passwd" },
      { name: "dir/hard", type: "hardlink", linkname: "dir/file" },
      { name: "null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "sda", type: "block", devmajor: 8, devminor: 0 },
      { name: "pipe", type: "fifo" },
    ]));
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ["dir/", "dir"], ["dir/file", "file"], ["dir/link", "symlink"], ["dir/hard", "hardlink"],
      ["null", "char"], ["sda", "block"], ["pipe", "fifo"],
    ]);
    expect(entries[0]).toMatchObject({ mode: 0o1777, uid: 1, gid: 2, mtime: 1234 });
    expect(entries[1]).toMatchObject({ mode: 0o4755, uid: 1000, gid: 100 });
    expect(text(entries[1])).toBe("hello");
    expect(entries[2]!.linkTarget).toBe("/etc/passwd");
    expect(entries[3]!.linkTarget).toBe("dir/file");
    expect(entries[4]).toMatchObject({ devMajor: 1, devMinor: 3 });
    expect(entries[5]).toMatchObject({ devMajor: 8, devMinor: 0 });
  });

  test("ustar prefix field joins long names", () => {
    const [entry] = parseTar(makeTar([{ name: long, content: "x", longNames: "ustar-prefix" }]));
    expect(entry!.path).toBe(long);
  });

  test("GNU long name (L) and long link (K)", () => {
    const target = `/${"t".repeat(150)}`;
    const entries = parseTar(makeTar([
      { name: long, content: "x", longNames: "gnu" },
      { name: `${long}.link`, type: "symlink", linkname: target, longNames: "gnu" },
      { name: "short", content: "y" },
    ]));
    expect(entries.map((e) => e.path)).toEqual([long, `${long}.link`, "short"]);
    expect(entries[1]!.linkTarget).toBe(target);
    expect(text(entries[0])).toBe("x");
  });

  test("pax: path, linkpath, size, uid, gid, mtime; global headers ignored", () => {
    const entries = parseTar(makeTar([
      { name: long, type: "symlink", linkname: "l".repeat(120), pax: { uid: "3000000", gid: "4000000", mtime: "1700000000.75", "SCHILY.xattr.user.x": "y" } },
      { name: "after", content: "z" },
    ], { globalPax: { path: "ignored", comment: "hello" } }));
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ path: long, linkTarget: "l".repeat(120), uid: 3000000, gid: 4000000, mtime: 1700000000 });
    // Overrides apply to one entry only.
    expect(entries[1]).toMatchObject({ path: "after", uid: 0, gid: 0 });
  });

  test("pax size overrides the header's size", () => {
    const tar = makeTar([{ name: "f", content: "abc", pax: { size: "3" } }]);
    // Zero the ustar size field: only the pax record says how big the data is.
    const header = tar.subarray(1024, 1536);
    header.fill(0, 124, 136);
    setChecksum(header);
    expect(text(parseTar(tar)[0])).toBe("abc");
  });

  test("a pax size is the file's, not that of a GNU long-name header between them", () => {
    const name = `${"d/".repeat(60)}file`;
    const tar = makeTar([{ name, content: "abc", longNames: "gnu", pax: { size: "3" } }]);
    // The writer puts L (2 blocks) before x (2 blocks); GNU tar may write them the other way round.
    const swapped = new Uint8Array(tar.length);
    swapped.set(tar.subarray(1024, 2048), 0);
    swapped.set(tar.subarray(0, 1024), 1024);
    swapped.set(tar.subarray(2048), 2048);
    const [entry] = parseTar(swapped);
    expect(entry!.path).toBe(name);
    expect(text(entry)).toBe("abc");
  });

  test("GNU base-256 numbers (uid over 2097151)", () => {
    const [entry] = parseTar(makeTar([{ name: "f", uid: 0o7777777 + 10, gid: 2 ** 32 }]));
    expect(entry).toMatchObject({ uid: 0o7777777 + 10, gid: 2 ** 32 });
  });

  test("gzip is detected by its magic bytes", () => {
    const entries = parseTar(makeTar([{ name: "f", content: "gz" }], { gzip: true }));
    expect(text(entries[0])).toBe("gz");
  });

  test("old-style directory: a plain file entry whose name ends in /", () => {
    const tar = makeTar([{ name: "old/" }]);
    expect(parseTar(tar)[0]!.type).toBe("dir");
  });
});

describe("parseTar: GNU tar compatibility", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync("/tmp/diyc-image-tar-");
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
    expect(existsSync(tmp)).toBe(false);
  });

  function buildTree(): string {
    const source = join(tmp, "src");
    mkdirSync(join(source, "bin"), { recursive: true });
    writeFileSync(join(source, "bin/suid"), "#!/bin/sh\n");
    chmodSync(join(source, "bin/suid"), 0o4755);
    linkSync(join(source, "bin/suid"), join(source, "bin/z-hard"));
    symlinkSync("/bin/suid", join(source, "bin/sym"));
    writeFileSync(join(source, "bin", long.replaceAll("/", "_")), "long");
    return source;
  }

  for (const format of ["gnu", "posix"]) {
    test(`archive from GNU tar --format=${format}`, () => {
      const source = buildTree();
      const archive = join(tmp, "real.tar");
      execFileSync("tar", [`--format=${format}`, "--owner=1234", "--group=5678", "--numeric-owner", "--sort=name", "-C", source, "-cf", archive, "."]);
      const entries = parseTar(readFileSync(archive));
      const byPath = new Map(entries.map((e) => [e.path, e]));
      expect(byPath.get("./bin/suid")).toMatchObject({ type: "file", mode: 0o4755, uid: 1234, gid: 5678 });
      expect(text(byPath.get("./bin/suid"))).toBe("#!/bin/sh\n");
      expect(byPath.get("./bin/z-hard")).toMatchObject({ type: "hardlink", linkTarget: "./bin/suid" });
      expect(byPath.get("./bin/sym")).toMatchObject({ type: "symlink", linkTarget: "/bin/suid" });
      expect(byPath.get(`./bin/${long.replaceAll("/", "_")}`)?.type).toBe("file");
      expect(byPath.get("./")?.type).toBe("dir");
    });
  }
});

describe("parseTar: corrupt and truncated archives", () => {
  const good = () => makeTar([{ name: "a", content: "x".repeat(600) }, { name: "b", content: "y" }]);
  const expectCorrupt = (archive: Uint8Array, message: string | RegExp) => {
    expect(() => parseTar(archive)).toThrow(ImageError);
    expect(() => parseTar(archive)).toThrow(message);
  };

  test("bad header checksum names the offset", () => {
    const tar = good();
    tar[0] = "z".charCodeAt(0);
    expectCorrupt(tar, "corrupt archive: bad header checksum at offset 0");
    const second = good();
    second[1536 + 1] = 1; // the second header: 512 header + 1024 data before it
    expectCorrupt(second, "corrupt archive: bad header checksum at offset 1536");
  });

  test("data cut short", () => {
    expectCorrupt(good().subarray(0, 1024), /truncated archive: entry at offset 0 needs 600 bytes/);
  });

  test("no end-of-archive marker", () => {
    expectCorrupt(makeTar([{ name: "a" }], { endBlocks: 0 }), /no end-of-archive marker/);
  });

  test("a partial header block", () => {
    expectCorrupt(good().subarray(0, 1536 + 100), /no end-of-archive marker/);
  });

  test("empty input, or text, or random bytes: not a tar archive, not a corrupt one", () => {
    for (const input of [new Uint8Array(0), new TextEncoder().encode("hello world\n".repeat(100)), new TextEncoder().encode("short\n")]) {
      expect(() => parseTar(input)).toThrow("not a tar archive (no tar header at its start)");
    }
  });

  test("corrupt gzip", () => {
    const gz = gzipSync(good());
    expectCorrupt(gz.subarray(0, gz.length - 20), /^corrupt gzip data/);
  });

  test("bad octal field", () => {
    const tar = good();
    tar.set(new TextEncoder().encode("9999"), 124);
    setChecksum(tar.subarray(0, 512));
    expectCorrupt(tar, /^corrupt archive: bad size field "9999\d+" at offset 0$/);
  });

  test("malformed pax record", () => {
    const tar = makeTar([{ name: "f", pax: { path: "x" } }]);
    tar.set(new TextEncoder().encode("99"), 512); // the record's length now runs past the data
    expectCorrupt(tar, "corrupt archive: bad pax header record at offset 0");
  });

  test("unsupported entry type (GNU sparse)", () => {
    const tar = makeTar([{ name: "sparse" }]);
    tar[156] = "S".charCodeAt(0);
    setChecksum(tar.subarray(0, 512));
    expect(() => parseTar(tar)).toThrow('entry "sparse" has unsupported type "S" (offset 0)');
  });
});
