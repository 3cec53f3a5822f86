// `diyc logs [-f] [-t] [--tail N] [--since T] NAME`: a container's stdout and
// stderr, as its monitor kept them, each to its own stream.

import { writeSync } from "node:fs";
import { UsageError } from "../linux/errors";
import { containerFiles } from "../runtime/container";
import { followLog, parseSince, readLog, tailLines, splitLines, type LogChunk } from "../runtime/logs";
import { containerStatus, requireContainer } from "../runtime/status";
import { has, last, parseArgs } from "./args";
import type { Command } from "./context";

/** The reader of our output went away (`diyc logs x | head -1`): not an error, just the end. */
class ReaderGone extends Error {}

function emit(chunk: LogChunk): void {
  try {
    writeAll(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EPIPE") throw new ReaderGone();
    throw error;
  }
}

function writeAll(chunk: LogChunk): void {
  let done = 0;
  const fd = chunk.stream === "stdout" ? 1 : 2;
  while (done < chunk.data.length) done += writeSync(fd, chunk.data, done);
}

const HELP = `Usage: diyc logs [-f] [-t] [--tail N] [--since TIME] NAME

A container's output, stdout to stdout and stderr to stderr.
  -f, --follow      follow it until the container exits
  -t, --timestamps  each line with the time the monitor read it (RFC 3339)
  -n, --tail N      only the last N lines
      --since TIME  only what came after TIME: 2026-12-02T09:00:00Z, seconds
                    since the epoch, or a duration back from now (10m, 1h30m)`;

export const logs: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [
    { long: "follow", short: "f" }, { long: "timestamps", short: "t" }, { long: "tail", short: "n", value: true },
    { long: "since", value: true }, { long: "help", short: "h" },
  ], false);
  if (has(parsed, "help")) {
    ctx.print(HELP);
    return 0;
  }
  const [name, ...extra] = parsed.positionals;
  if (!name || extra.length > 0) throw new UsageError("logs needs exactly one container name");
  const tail = last(parsed, "tail");
  if (tail !== undefined && !/^\d{1,9}$/.test(tail)) throw new UsageError(`invalid --tail ${JSON.stringify(tail)}: a number of lines`);
  const sinceText = last(parsed, "since");
  const since = sinceText === undefined ? undefined : parseSince(sinceText, Date.now());
  if (sinceText !== undefined && since === undefined) {
    throw new UsageError(`invalid --since ${JSON.stringify(sinceText)}: use a time (2026-12-02T09:00:00Z), seconds since the epoch, or a duration (10m)`);
  }
  const timestamps = has(parsed, "timestamps");
  // A chunk from a log written before records had times passes --since: nothing says it is older.
  const wanted = (chunk: LogChunk) => since === undefined || chunk.timeMs === undefined || chunk.timeMs >= since;
  const show = (chunks: LogChunk[]) => {
    for (const chunk of timestamps ? splitLines(chunks) : chunks) {
      if (!wanted(chunk)) continue;
      if (timestamps) emit({ ...chunk, data: Buffer.concat([Buffer.from(`${chunk.timeMs === undefined ? "-" : new Date(chunk.timeMs).toISOString()} `), chunk.data]) });
      else emit(chunk);
    }
  };
  requireContainer(ctx.store, name);
  const path = containerFiles(ctx.store, name).log;
  try {
    const { chunks, position } = readLog(path);
    show(tail === undefined ? chunks : tailLines(chunks, Number(tail)));
    if (has(parsed, "follow")) {
      // Followed across restarts: a container between two runs of its restart policy is still there.
      const live = () => {
        const status = containerStatus(ctx.store, name);
        return status.status !== "exited" || status.restarting === true || status.settling === true;
      };
      await followLog(path, position, (chunk) => show([chunk]), live);
    }
  } catch (error) {
    // As cat does when its reader is gone, minus the SIGPIPE death (Bun ignores SIGPIPE): stop, quietly, status 0.
    if (error instanceof ReaderGone) return 0;
    throw error;
  }
  return 0;
};
