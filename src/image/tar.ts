// A tar reader: ustar, GNU long names (`L`, `K`) and pax extended headers
// (`x`, with SCHILY.xattr records; `g` is read and ignored). It only parses:
// nothing here touches the filesystem. src/image/extract.ts decides what is
// safe to write; a corrupt archive found half-way fails the whole unpack,
// whose staging directory is then removed (src/image/layers.ts).
//
// It streams: TarParser takes the archive in chunks of any size and hands
// each entry, then its contents piece by piece, to a TarSink. Only a header
// block and the (bounded) data of GNU/pax meta headers are ever buffered.

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
  /** Extended attributes from pax SCHILY.xattr.NAME records (file capabilities, ...), raw bytes. */
  xattrs?: Record<string, Uint8Array>;
}

/** The per-entry overrides that GNU `L`/`K` and pax `x` headers carry for the next entry. */
interface Overrides {
  path?: string;
  linkTarget?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs?: Record<string, Uint8Array>;
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

function hasUstarMagic(header: Uint8Array): boolean {
  return new TextDecoder("latin1").decode(header.subarray(257, 262)) === "ustar";
}

function notATar(): ImageError {
  return new ImageError("not a tar archive (no tar header at its start)");
}

/** Parses a whole tar archive in memory (gzip detected by its magic bytes). For tests and small archives. */
export function parseTar(input: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let chunks: Uint8Array[] = [];
  const parser = new TarParser({
    entry: () => { chunks = []; },
    data: (chunk) => { chunks.push(chunk.slice()); },
    endEntry: (entry) => { entries.push({ ...entry, data: concat(chunks) }); },
  });
  parser.push(maybeGunzip(input));
  parser.end();
  return entries;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function maybeGunzip(input: Uint8Array): Uint8Array {
  if (input.length < 2 || input[0] !== 0x1f || input[1] !== 0x8b) return input;
  try {
    return Bun.gunzipSync(input as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new ImageError(`corrupt gzip data: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Where a streaming parse sends what it finds. `entry` and `endEntry` bracket
 * each entry; `data` receives a regular file's contents piece by piece (views
 * into the parser's input: copy them to keep them).
 */
export interface TarSink {
  entry(entry: TarEntry): void;
  data(chunk: Uint8Array): void;
  endEntry(entry: TarEntry): void;
}

/** GNU long names and pax headers are held in memory: a bound keeps a hostile archive from using it all. */
const MAX_META_BYTES = 1 << 20;

/**
 * A streaming tar parser: push() the (decompressed) archive in chunks of any
 * size, then end(). Only one header block and a meta header's data are ever
 * buffered; file contents pass straight through to the sink. Everything after
 * the end-of-archive marker is ignored (but still accepted, so a caller can
 * hash a whole layer while it is parsed).
 */
export class TarParser {
  private readonly headerBlock = new Uint8Array(BLOCK);
  private headerFilled = 0;
  /** Bytes consumed so far: offsets in messages count from the archive's start. */
  private offset = 0;
  /** data: a file's contents, to the sink; skip: another entry's (ignored); meta: a header's, kept. */
  private state: "header" | "data" | "skip" | "meta" | "padding" | "done" = "header";
  private remaining = 0;
  private current: TarEntry | undefined;
  private headerOffset = 0;
  private entrySize = 0;
  private meta: { typeFlag: string; data: Uint8Array; filled: number } | undefined;
  private overrides: Overrides = {};

  constructor(private readonly sink: TarSink) {}

  get finished(): boolean {
    return this.state === "done";
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && this.state !== "done") {
      if (this.state === "header") {
        const take = Math.min(BLOCK - this.headerFilled, chunk.length - at);
        this.headerBlock.set(chunk.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        this.offset += take;
        if (this.headerFilled === BLOCK) {
          this.headerFilled = 0;
          const at = this.offset - BLOCK;
          try {
            this.header(this.headerBlock, at);
          } catch (error) {
            // The first block decides whether this is a tar at all: a text or
            // random file is "not a tar archive", not a corrupt one.
            // (A block with the ustar magic is a tar, damaged: that error stands.)
            if (at === 0 && error instanceof ImageError && error.message.startsWith("corrupt archive") && !hasUstarMagic(this.headerBlock)) throw notATar();
            throw error;
          }
        }
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.offset += take;
      this.remaining -= take;
      if (this.state === "data" && take > 0) this.sink.data(piece);
      if (this.state === "meta") {
        this.meta!.data.set(piece, this.meta!.filled);
        this.meta!.filled += take;
      }
      if (this.remaining === 0) this.endOfData();
    }
  }

  /** The input is over: anything but a complete archive is an error. */
  end(): void {
    if (this.state === "done") return;
    if (this.offset < BLOCK) throw notATar(); // shorter than one header block
    if (this.state === "header" || this.state === "padding") {
      throw corrupt(`truncated archive: no end-of-archive marker (archive ends at offset ${this.offset})`);
    }
    const got = this.entrySize - this.remaining;
    throw corrupt(`truncated archive: entry at offset ${this.headerOffset} needs ${this.entrySize} bytes, ${got} remain`);
  }

  private header(header: Uint8Array, offset: number): void {
    if (isZeroBlock(header)) {
      this.state = "done"; // end of archive; trailing blocks are padding
      return;
    }
    verifyChecksum(header, offset);
    const typeFlag = String.fromCharCode(header[156]!);
    const isMeta = typeFlag === "L" || typeFlag === "K" || typeFlag === "x" || typeFlag === "g";
    // A pax size is the next file's: a meta header in between keeps its own.
    const size = (isMeta ? undefined : this.overrides.size) ?? readNumber(header, 124, 12, "size", offset);
    this.headerOffset = offset;
    this.entrySize = size;
    this.remaining = size;
    if (isMeta) {
      if (size > MAX_META_BYTES) throw corrupt(`"${typeFlag}" header at offset ${offset} holds ${size} bytes (at most ${MAX_META_BYTES})`);
      this.meta = { typeFlag, data: new Uint8Array(size), filled: 0 };
      this.state = "meta";
    } else {
      const entry = buildEntry(header, typeFlag, new Uint8Array(0), this.overrides, offset);
      this.overrides = {};
      this.current = entry;
      this.sink.entry(entry);
      this.state = entry.type === "file" ? "data" : "skip";
    }
    if (size === 0) this.endOfData();
  }

  private endOfData(): void {
    if (this.state === "padding") {
      this.state = "header";
      return;
    }
    if (this.state === "meta") {
      this.overrides = applyMetaHeader(this.meta!.typeFlag, this.meta!.data, this.overrides, this.headerOffset);
      this.meta = undefined;
    } else {
      const entry = this.current!;
      this.current = undefined;
      this.sink.endEntry(entry);
    }
    this.remaining = roundUpToBlock(this.entrySize) - this.entrySize;
    this.state = this.remaining === 0 ? "header" : "padding";
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
const XATTR_PREFIX = "SCHILY.xattr.";

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
    const record = data.subarray(space + 1, position + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw corrupt(`bad pax header record at offset ${offset}`);
    const key = new TextDecoder().decode(record.subarray(0, equals));
    const value = record.subarray(equals + 1);
    // An xattr's value is binary (security.capability): kept as bytes, never decoded.
    if (key.startsWith(XATTR_PREFIX)) overrides.xattrs = { ...overrides.xattrs, [key.slice(XATTR_PREFIX.length)]: value.slice() };
    else applyPaxRecord(overrides, key, new TextDecoder().decode(value), offset);
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
    // Other keys (atime, uname, ...) are not kept.
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
    ...(overrides.xattrs ? { xattrs: overrides.xattrs } : {}),
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
