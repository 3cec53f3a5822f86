// `diyc image import|ls|inspect|rm|prune`: parses argv, calls src/image/,
// formats the result. Errors are thrown as DiycError; the dispatcher prints them.

import { UsageError } from "../linux/errors";
import { importImage } from "../image/import";
import { imageConfig, imageLayout, imageManifest, listImages, pruneImages, removeImage, requireImage, type ImageSummary } from "../image/images";
import { parsePlatform } from "../image/oci-image";
import { has, last, parseArgs } from "./args";
import type { CliContext, Command } from "./context";
import { forEachName } from "./each";
import { formatSize, formatTable } from "./format";
import { layerProgress } from "./progress";

const HELP = `Usage: diyc image COMMAND

Manage images: layers stored once by digest, shared between images.

Commands:
  import [--platform OS/ARCH] FILE|DIR|- [NAME]
                     Import a rootfs tarball (plain, gzip or zstd; NAME needed),
                     an OCI image layout (directory or tar), or a docker-archive
                     (docker save). The kind is read from the content. - is stdin.
  ls                 List images: REPOSITORY, TAG, IMAGE ID, CREATED, SIZE (unique/shared)
  inspect IMAGE      The image's record, manifest and config, as JSON
  rm [-f] IMAGE...   Remove names, and images no name or container uses
                     (-f: also while containers use it; its layers stay until then)
  prune              Remove unnamed images nothing uses, and unused layers

IMAGE is a name (busybox, 127.0.0.1:5000/app:1) or an id (a prefix will do).
See docs/images.md.`;

type Subcommand = (args: string[], ctx: CliContext) => Promise<number>;

const subcommands: Record<string, Subcommand> = {
  import: importCommand,
  ls: listCommand,
  list: listCommand,
  inspect: inspectCommand,
  rm: removeCommand,
  remove: removeCommand,
  prune: pruneCommand,
};

const helpWords = new Set(["--help", "-h", "help"]);

export const image: Command = async (args, ctx) => {
  const [name, ...rest] = args;
  if (name === undefined || helpWords.has(name) || rest.some((arg) => arg === "--help" || arg === "-h")) {
    ctx.print(HELP);
    return 0;
  }
  const subcommand = subcommands[name];
  if (subcommand === undefined) throw new UsageError(`unknown image command ${JSON.stringify(name)}; see diyc image --help`);
  return subcommand(rest, ctx);
};

async function importCommand(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(args, [{ long: "platform", value: true }, { long: "quiet", short: "q" }], false);
  const [file, name, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) throw new UsageError("usage: diyc image import [--platform OS/ARCH] FILE|DIR|- [NAME]");
  const platformFlag = last(parsed, "platform");
  const progress = has(parsed, "quiet") ? undefined : await layerProgress(ctx);
  try {
    const result = await importImage(ctx.store, file, ctx.syscalls, {
      name,
      platform: platformFlag === undefined ? undefined : parsePlatform(platformFlag),
      stdin: () => Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>,
      progress: progress?.progress,
    });
    progress?.finish();
    if (ctx.verbose) ctx.log(`imported a ${result.kind}: image ${result.record.id}, ${result.record.layers.length} layer(s)`);
    ctx.print(result.names[0] ?? result.record.id);
  } finally {
    progress?.stop();
  }
  return 0;
}

async function listCommand(args: string[], ctx: CliContext): Promise<number> {
  if (args.length !== 0) throw new UsageError("usage: diyc image ls");
  const rows: string[][] = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "UNIQUE", "SHARED"]];
  for (const summary of listImages(ctx.store)) {
    for (const name of summary.names.length > 0 ? summary.names : ["<none>"]) rows.push(formatRow(name, summary));
  }
  ctx.print(formatTable(rows));
  return 0;
}

async function inspectCommand(args: string[], ctx: CliContext): Promise<number> {
  if (args.length !== 1) throw new UsageError("usage: diyc image inspect IMAGE");
  const layout = imageLayout(ctx.store);
  const record = requireImage(layout, args[0]!);
  const summary = listImages(ctx.store).find((s) => s.id === record.id);
  ctx.print(JSON.stringify({
    id: record.id,
    names: summary?.names ?? [],
    size: summary?.size ?? 0,
    source: record.source,
    storedAt: record.storedAt,
    layers: record.layers.map((diffId) => ({ diffId, path: layout.layerRoot(diffId) })),
    manifestDigest: record.manifestDigest,
    manifest: imageManifest(layout, record),
    config: imageConfig(layout, record),
  }, null, 2));
  return 0;
}

/** Removes each image in turn; one that cannot be removed does not stop the others. */
async function removeCommand(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(args, [{ long: "force", short: "f" }], false);
  const names = parsed.positionals;
  if (names.length === 0) throw new UsageError("usage: diyc image rm [-f] IMAGE...");
  const removeOne = async (name: string) => {
    const result = await removeImage(ctx.store, name, ctx.syscalls, has(parsed, "force"));
    for (const untagged of result.untagged) ctx.print(`Untagged: ${untagged}`);
    for (const deleted of result.deleted) ctx.print(`Deleted: ${deleted}`);
  };
  if (names.length === 1) {
    await removeOne(names[0]!);
    return 0;
  }
  return forEachName(ctx, names, removeOne, { printName: false });
}

async function pruneCommand(args: string[], ctx: CliContext): Promise<number> {
  if (args.length !== 0) throw new UsageError("usage: diyc image prune");
  const result = await pruneImages(ctx.store, ctx.syscalls);
  for (const id of result.images) ctx.print(`Deleted: ${id}`);
  ctx.print(`Removed ${result.images.length} image(s) and ${result.layers} layer(s), ${formatSize(result.bytes)}`);
  return 0;
}

function formatRow(name: string, info: ImageSummary): string[] {
  const at = name.lastIndexOf(":");
  const digestAt = name.indexOf("@");
  const [repository, tag] = name === "<none>" ? ["<none>", "<none>"]
    : digestAt >= 0 ? [name.slice(0, digestAt), "<none>"]
    : [name.slice(0, at), name.slice(at + 1)];
  const created = info.created.replace("T", " ").replace(/\.\d+Z$/, "Z");
  return [repository, tag, info.id.slice(7, 19), created, formatSize(info.size), formatSize(info.unique), formatSize(info.size - info.unique)];
}
