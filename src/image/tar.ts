// A tar reader: ustar, GNU long names (`L`, `K`) and pax extended headers
// (`x`; `g` is read and ignored). It only parses: nothing here touches the
// filesystem, so a corrupt archive is rejected before anything is written.
// src/image/extract.ts decides what is safe to write.
//
// The whole archive is in memory (a Uint8Array); entries' data are views into
// it, not copies.

import { ImageError } from "./errors";

const BLOCK = 512;

export type EntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarEntry {
  /** The name as stored (after GNU/pax overrides); not yet checked or normalized. */
  path: string;
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Target of a symlink or hardlink; "" for other types. */
  linkTarget: string;
  devMajor: number;
  devMinor: number;
  /** File contents; empty for everything but regular files. */
  data: Uint8Array;
  /** Where the entry's header starts in the (decompressed) archive, for messages. */
  offset: number;
}

/** The per-entry overrides that GNU `L`/`K` and pax `x` headers carry for the next entry. */
interface Overrides {
  path?: string;
  linkTarget?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

const typeFlags: Record<string, EntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file", // contiguous file: a regular file everywhere but on one old Unix
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

function corrupt(reason: string): ImageError {
  return new ImageError(`corrupt archive: ${reason}`);
}

/** Parses a tar archive, gunzipping it first when it starts with the gzip magic bytes. */
export function parseTar(input: Uint8Array): TarEntry[] {
  return parseUncompressed(maybeGunzip(input));
}

function maybeGunzip(input: Uint8Array): Uint8Array {
  if (input.length < 2 || input[0] !== 0x1f || input[1] !== 0x8b) return input;
  try {
    // Bun's own gunzip: node:zlib would add ~14 ms to every diyc command's start-up.
    return Bun.gunzipSync(input as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new ImageError(`corrupt gzip data: ${(error as Error).message}`, { cause: error });
  }
}

function parseUncompressed(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let overrides: Overrides = {};
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > archive.length) {
      throw corrupt(`truncated archive: no end-of-archive marker (archive ends at offset ${archive.length})`);
    }
    const header = archive.subarray(offset, offset + BLOCK);
    if (isZeroBlock(header)) return entries; // end of archive; trailing blocks are padding
    verifyChecksum(header, offset);
    const typeFlag = String.fromCharCode(header[156]!);
    const isMeta = typeFlag === "L" || typeFlag === "K" || typeFlag === "x" || typeFlag === "g";
    // A pax size is the next file's: a meta header in between keeps its own.
    const size = (isMeta ? undefined : overrides.size) ?? readNumber(header, 124, 12, "size", offset);
    const dataStart = offset + BLOCK;
    if (dataStart + size > archive.length) {
      throw corrupt(`truncated archive: entry at offset ${offset} needs ${size} bytes, ${archive.length - dataStart} remain`);
    }
    const data = archive.subarray(dataStart, dataStart + size);
    if (isMeta) {
      overrides = applyMetaHeader(typeFlag, data, overrides, offset);
    } else {
      entries.push(buildEntry(header, typeFlag, data, overrides, offset));
      overrides = {};
    }
    offset = dataStart + roundUpToBlock(size);
  }
}

function roundUpToBlock(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function isZeroBlock(block: Uint8Array): boolean {
  return block.every((byte) => byte === 0);
}

/** The checksum treats its own 8 bytes as spaces; old tars summed signed bytes, so accept both. */
function verifyChecksum(header: Uint8Array, offset: number): void {
  const stored = readNumber(header, 148, 8, "checksum", offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw corrupt(`bad header checksum at offset ${offset}`);
}

/** A numeric field: octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
function readNumber(header: Uint8Array, start: number, length: number, field: string, offset: number): number {
  const bytes = header.subarray(start, start + length);
  if (bytes[0]! & 0x80) return readBase256(bytes, field, offset);
  const text = new TextDecoder("latin1").decode(bytes).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`bad ${field} field ${JSON.stringify(text)} at offset ${offset}`);
  return parseInt(text, 8);
}

function readBase256(bytes: Uint8Array, field: string, offset: number): number {
  if (bytes[0] === 0xff) throw corrupt(`negative ${field} field at offset ${offset}`);
  let value = bytes[0]! & 0x7f;
  for (const byte of bytes.subarray(1)) value = value * 256 + byte;
  if (!Number.isSafeInteger(value)) throw corrupt(`${field} field too large at offset ${offset}`);
  return value;
}

/** A NUL-terminated string field. Names are decoded as UTF-8, which is what modern tars write. */
function readString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function applyMetaHeader(typeFlag: string, data: Uint8Array, current: Overrides, offset: number): Overrides {
  switch (typeFlag) {
    case "L":
      return { ...current, path: readString(data) };
    case "K":
      return { ...current, linkTarget: readString(data) };
    case "x":
      return { ...current, ...parsePaxRecords(data, offset) };
    default:
      // A global pax header ("g") sets defaults for the rest of the archive.
      // Its records are validated, then ignored: none of them can change
      // where an entry goes, and every entry carries its own metadata.
      parsePaxRecords(data, offset);
      return current;
  }
}

/** pax records: "<length> <key>=<value>\n", where length counts the whole record. */
function parsePaxRecords(data: Uint8Array, offset: number): Overrides {
  const overrides: Overrides = {};
  let position = 0;
  while (position < data.length) {
    if (data[position] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, position);
    const length = space === -1 ? NaN : Number(new TextDecoder().decode(data.subarray(position, space)));
    if (!Number.isInteger(length) || length <= 0 || position + length > data.length || data[position + length - 1] !== 0x0a) {
      throw corrupt(`bad pax header record at offset ${offset}`);
    }
    const record = new TextDecoder().decode(data.subarray(space + 1, position + length - 1));
    const equals = record.indexOf("=");
    if (equals === -1) throw corrupt(`bad pax header record at offset ${offset}`);
    applyPaxRecord(overrides, record.slice(0, equals), record.slice(equals + 1), offset);
    position += length;
  }
  return overrides;
}

function applyPaxRecord(overrides: Overrides, key: string, value: string, offset: number): void {
  const number = (): number => {
    // mtime may carry a fraction ("1700000000.123"); whole seconds are enough here.
    if (!/^\d+(\.\d+)?$/.test(value)) throw corrupt(`bad pax ${key} ${JSON.stringify(value)} at offset ${offset}`);
    return Math.floor(Number(value));
  };
  switch (key) {
    case "path":
      overrides.path = value;
      break;
    case "linkpath":
      overrides.linkTarget = value;
      break;
    case "size":
      overrides.size = number();
      break;
    case "uid":
      overrides.uid = number();
      break;
    case "gid":
      overrides.gid = number();
      break;
    case "mtime":
      overrides.mtime = number();
      break;
    // Other keys (atime, uname, xattrs, ...) are not kept.
  }
}

function buildEntry(header: Uint8Array, typeFlag: string, data: Uint8Array, overrides: Overrides, offset: number): TarEntry {
  const path = overrides.path ?? headerName(header);
  let type = typeFlags[typeFlag];
  if (type === undefined) {
    throw new ImageError(`entry ${JSON.stringify(path)} has unsupported type ${JSON.stringify(typeFlag)} (offset ${offset})`);
  }
  // Pre-POSIX tars marked directories only by a trailing slash.
  if (type === "file" && typeFlag !== "7" && path.endsWith("/")) type = "dir";
  const num = (start: number, length: number, field: string) => readNumber(header, start, length, field, offset);
  return {
    path,
    type,
    mode: num(100, 8, "mode") & 0o7777,
    uid: overrides.uid ?? num(108, 8, "uid"),
    gid: overrides.gid ?? num(116, 8, "gid"),
    mtime: overrides.mtime ?? num(136, 12, "mtime"),
    linkTarget: overrides.linkTarget ?? readString(header.subarray(157, 257)),
    devMajor: type === "char" || type === "block" ? num(329, 8, "devmajor") : 0,
    devMinor: type === "char" || type === "block" ? num(337, 8, "devminor") : 0,
    data: type === "file" ? data : new Uint8Array(0),
    offset,
  };
}

/** ustar splits long names into prefix (345..500) + name; GNU's old format uses those bytes for other things. */
function headerName(header: Uint8Array): string {
  const name = readString(header.subarray(0, 100));
  const isUstar = readString(header.subarray(257, 263)) === "ustar" && header[262] === 0;
  if (!isUstar) return name;
  const prefix = readString(header.subarray(345, 500));
  return prefix === "" ? name : `${prefix}/${name}`;
}
