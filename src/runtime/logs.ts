// Reading the log the monitor writes for every container
// (native/log.c). Records are "<o|e><length>@<ms>\n<bytes>", so stdout and
// stderr stay apart and byte-exact, and each read carries the time it arrived
// (logs written before the stamp was added have no "@<ms>"). Past its size bound the file is renamed
// to "<log>.1" and a new one started; readers take .1 first.

import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { DiycError } from "../linux/errors";

export interface LogChunk {
  stream: "stdout" | "stderr";
  data: Uint8Array;
  /** When the monitor read it, in ms since the epoch; undefined in an older log. */
  timeMs?: number;
}

const NEWLINE = 0x0a;

/** Parses whole records from `buffer`; returns them and how many bytes they used. */
export function parseLogRecords(buffer: Uint8Array): { chunks: LogChunk[]; consumed: number } {
  const chunks: LogChunk[] = [];
  let at = 0;
  while (at < buffer.length) {
    const newline = buffer.indexOf(NEWLINE, at);
    if (newline < 0) break;
    const tag = String.fromCharCode(buffer[at]!);
    const header = /^(\d+)(?:@(\d+))?$/.exec(new TextDecoder().decode(buffer.subarray(at + 1, newline)));
    if ((tag !== "o" && tag !== "e") || !header) {
      throw new DiycError(`corrupt log record at byte ${at}`);
    }
    const end = newline + 1 + Number(header[1]);
    if (end > buffer.length) break; // the monitor is still writing it
    chunks.push({
      stream: tag === "o" ? "stdout" : "stderr",
      data: buffer.subarray(newline + 1, end),
      ...(header[2] === undefined ? {} : { timeMs: Number(header[2]) }),
    });
    at = end;
  }
  return { chunks, consumed: at };
}

/** Where a reader stopped in the current file, to follow on from there. */
export interface LogPosition {
  inode: number;
  offset: number;
}

function readFileAt(path: string): { bytes: Uint8Array; inode: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    // No such file: nothing logged yet, or not rotated yet. Anything else (EACCES) is an error, not an empty log.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const { size, ino } = fstatSync(fd);
    const bytes = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, bytes, done, size - done, done);
      if (n <= 0) break;
      done += n;
    }
    return { bytes: bytes.subarray(0, done), inode: ino };
  } finally {
    closeSync(fd);
  }
}

/** Everything still kept (the rotated file, then the current one), and where it ended. */
export function readLog(path: string): { chunks: LogChunk[]; position: LogPosition } {
  const chunks: LogChunk[] = [];
  const rotated = readFileAt(`${path}.1`);
  if (rotated) chunks.push(...parseLogRecords(rotated.bytes).chunks);
  const current = readFileAt(path);
  if (!current) return { chunks, position: { inode: -1, offset: 0 } };
  const { chunks: recent, consumed } = parseLogRecords(current.bytes);
  chunks.push(...recent);
  return { chunks, position: { inode: current.inode, offset: consumed } };
}

/** The last `lines` lines across both streams, in order, each kept with its stream. */
export function tailLines(chunks: LogChunk[], lines: number): LogChunk[] {
  const pieces = splitLines(chunks);
  // A piece without a trailing newline continues on the next piece of its line.
  let count = 0;
  let from = pieces.length;
  while (from > 0 && count < lines) {
    from--;
    const piece = pieces[from]!;
    if (piece.data[piece.data.length - 1] === NEWLINE || from === pieces.length - 1) count++;
  }
  return lines <= 0 ? [] : pieces.slice(from);
}

/**
 * Follows the log: calls `emit` with new records as the monitor writes them,
 * across rotations (a new inode at `path`: finish the old file, then switch),
 * until `running()` is false and nothing new arrived.
 */
export async function followLog(
  path: string, from: LogPosition, emit: (chunk: LogChunk) => void, running: () => boolean, pollMs = 100,
): Promise<void> {
  let fd = -1;
  let inode = -1;
  let pending: Uint8Array = new Uint8Array(0);
  const buffer = Buffer.alloc(65536);
  const drain = (): boolean => {
    if (fd < 0) return false;
    let any = false;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n <= 0) break;
      position += n;
      any = true;
      const joined = new Uint8Array(pending.length + n);
      joined.set(pending);
      joined.set(buffer.subarray(0, n), pending.length);
      const { chunks, consumed } = parseLogRecords(joined);
      for (const chunk of chunks) emit(chunk);
      pending = joined.slice(consumed);
    }
    return any;
  };
  let position = 0;
  const open = (start: LogPosition | undefined) => {
    if (!existsSync(path)) return;
    fd = openSync(path, "r");
    inode = fstatSync(fd).ino;
    // Continue where readLog stopped if this is still that file; a new file is read whole.
    position = start && start.inode === inode ? start.offset : 0;
    pending = new Uint8Array(0);
  };
  open(from);
  try {
    for (;;) {
      const alive = running();
      const progressed = drain();
      let current = -1;
      try {
        current = statSync(path).ino;
      } catch {
        // rotated away and not yet recreated: keep the old file for now
      }
      if (current !== -1 && current !== inode) {
        drain(); // the rest of the rotated file
        if (fd >= 0) closeSync(fd);
        fd = -1;
        open(undefined);
        continue;
      }
      if (!alive && !progressed) return;
      await Bun.sleep(pollMs);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * --since: an RFC 3339 time (2026-12-02T09:00:00Z), seconds since the epoch
 * (1796200000, fractions allowed), or a duration back from now (90s, 10m,
 * 1h30m), as docker takes it. Returns ms since the epoch.
 */
export function parseSince(value: string, nowMs: number): number | undefined {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const duration = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (duration && value !== "") {
    const [, h = "0", m = "0", sec = "0"] = duration;
    return nowMs - (Number(h) * 3600 + Number(m) * 60 + Number(sec)) * 1000;
  }
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/** The chunks split into lines, each with its chunk's stream and time: what `logs -t` prefixes and --tail counts. */
export function splitLines(chunks: LogChunk[]): LogChunk[] {
  const out: LogChunk[] = [];
  for (const chunk of chunks) {
    let start = 0;
    while (start < chunk.data.length) {
      const newline = chunk.data.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.data.length : newline + 1;
      out.push({ ...chunk, data: chunk.data.subarray(start, end) });
      start = end;
    }
  }
  return out;
}

