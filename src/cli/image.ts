// `diyc image import|ls|rm`: parses argv, calls src/image/images.ts, formats
// the result. Errors are thrown as DiycError; the dispatcher prints them.

import { UsageError } from "../linux/errors";
import { containersUsingImage, importImage, listImages, removeImage, type ImageInfo } from "../image/images";
import type { CliContext, Command } from "./context";

const HELP = `Usage: diyc image COMMAND

Manage images: root filesystem tarballs (plain or gzip), such as the output of
\`docker export\`. The built-in image "busybox" is assembled from the host's
static busybox the first time a container uses it.

Commands:
  import FILE NAME   Import the tarball FILE as image NAME
  ls                 List images: NAME, CREATED, SIZE
  rm NAME...         Remove images that no container uses

See docs/images.md.`;

type Subcommand = (args: string[], ctx: CliContext) => number;

const subcommands: Record<string, Subcommand> = {
  import: importCommand,
  ls: listCommand,
  list: listCommand,
  rm: removeCommand,
  remove: removeCommand,
};

const helpWords = new Set(["--help", "-h", "help"]);

export const image: Command = async (args, ctx) => {
  const [name, ...rest] = args;
  if (name === undefined || helpWords.has(name) || rest.some((arg) => arg === "--help" || arg === "-h")) {
    return printHelp(ctx);
  }
  const subcommand = subcommands[name];
  if (subcommand === undefined) throw new UsageError(`unknown image command ${JSON.stringify(name)}; see diyc image --help`);
  return subcommand(rest, ctx);
};

function printHelp(ctx: CliContext): number {
  ctx.print(HELP);
  return 0;
}

function importCommand(args: string[], ctx: CliContext): number {
  if (args.length !== 2) throw new UsageError("usage: diyc image import FILE NAME");
  const [file, name] = args as [string, string];
  const info = importImage(ctx.store, file, name, ctx.syscalls);
  if (ctx.verbose) ctx.log(`imported ${info.files} entries, ${formatSize(info.size)}, from ${info.source}`);
  ctx.print(info.name);
  return 0;
}

function listCommand(args: string[], ctx: CliContext): number {
  if (args.length !== 0) throw new UsageError("usage: diyc image ls");
  const rows = listImages(ctx.store).map(formatRow);
  for (const line of formatTable([["NAME", "CREATED", "SIZE"], ...rows])) ctx.print(line);
  return 0;
}

/** Removes each image in turn; one that cannot be removed does not stop the others. */
function removeCommand(names: string[], ctx: CliContext): number {
  if (names.length === 0) throw new UsageError("usage: diyc image rm NAME...");
  if (names.length === 1) {
    removeOne(names[0]!, ctx);
    return 0;
  }
  let failed = false;
  for (const name of names) {
    try {
      removeOne(name, ctx);
    } catch (error) {
      ctx.log(`diyc: ${(error as Error).message}`);
      failed = true;
    }
  }
  return failed ? 125 : 0;
}

function removeOne(name: string, ctx: CliContext): void {
  removeImage(ctx.store, name, (image) => containersUsingImage(ctx.store, image));
  ctx.print(name);
}

function formatRow(info: ImageInfo): string[] {
  const created = info.created === null ? "-" : info.created.replace("T", " ").replace(/\.\d+Z$/, "Z");
  return [info.name, created, info.created === null ? "-" : formatSize(info.size)];
}

/** 1.9MB, 512kB, 40B: decimal units, as docker prints them. */
export function formatSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)}${units[unit]}`;
}

/** Left-aligned columns, three spaces apart. */
function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]! + 3))).join(""));
}
