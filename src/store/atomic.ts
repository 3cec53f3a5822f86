// Atomic file writes: write a temporary file beside the target, then rename it
// over the target. A reader sees the old file or the new one, never half of
// either, even if diyc is killed in between. And the read that goes with it:
// one open, where a missing file is an answer rather than an error.
//
// No fsync by default: it costs about 1 ms each on the container start path,
// and what it protects against is a power loss, after which every container
// is stopped anyway and its status is derived again from pids (status.ts).
// Pass durable for data that must survive a crash of the machine.

import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from "node:fs";
import { asDiycError, DiycError } from "../linux/errors";

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, durable = false): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A state file's JSON text, as writeJsonAtomic writes it. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

export function writeJsonAtomic(path: string, value: unknown, durable = false): void {
  writeFileAtomic(path, jsonText(value), 0o644, durable);
}

/** Reads a small state file; undefined if it does not exist (never written, or removed). */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A directory's entries; none if it does not exist (yet). Any other failure is an error with its path. */
export function readDirIfExists(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw asDiycError(error, path);
  }
}

/**
 * A JSON state file; undefined if it does not exist (one read, no separate
 * stat: `rm` may delete it meanwhile). A damaged one is one line naming it.
 */
export function readJsonIfExists<T>(path: string): T | undefined {
  const text = readIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DiycError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

