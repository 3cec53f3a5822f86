// `diyc logs [-f] [--tail N] NAME`: a detached container's stdout and stderr,
// as the monitor kept them, each to its own stream.

import { writeSync } from "node:fs";
import { DiycError, UsageError } from "../linux/errors";
import { containerFiles, readConfig } from "../runtime/container";
import { followLog, readLog, tailLines, type LogChunk } from "../runtime/logs";
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

export const logs: Command = async (args, ctx) => {
  const parsed = parseArgs(args, [{ long: "follow", short: "f" }, { long: "tail", short: "n", value: true }, { long: "help", short: "h" }], false);
  if (has(parsed, "help")) {
    ctx.print("Usage: diyc logs [-f] [--tail N] NAME\n\nA detached container's output. -f follows it until the container exits.");
    return 0;
  }
  const [name, ...extra] = parsed.positionals;
  if (!name || extra.length > 0) throw new UsageError("logs needs exactly one container name");
  const tail = last(parsed, "tail");
  if (tail !== undefined && !/^\d{1,9}$/.test(tail)) throw new UsageError(`invalid --tail ${JSON.stringify(tail)}: a number of lines`);
  requireContainer(ctx.store, name);
  if (readConfig(ctx.store, name)?.request?.detach === false) {
    throw new DiycError(`container ${name} ran in the foreground: its output went to the terminal, not to a log`);
  }
  const path = containerFiles(ctx.store, name).log;
  try {
    const { chunks, position } = readLog(path);
    for (const chunk of tail === undefined ? chunks : tailLines(chunks, Number(tail))) emit(chunk);
    if (has(parsed, "follow")) {
      await followLog(path, position, emit, () => containerStatus(ctx.store, name).status !== "exited");
    }
  } catch (error) {
    // As cat does when its reader is gone, minus the SIGPIPE death (Bun ignores SIGPIPE): stop, quietly, status 0.
    if (error instanceof ReaderGone) return 0;
    throw error;
  }
  return 0;
};
